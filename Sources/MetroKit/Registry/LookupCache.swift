import MetroProtocol
import Synchronization

/// LOOKUP results the client may serve without asking the registry again.
///
/// Thread-safe (a `Mutex`): async callers read it on whatever thread they run, the
/// client's I/O thread invalidates entries when a membership event arrives. Each
/// service has a generation that every invalidation bumps; a result fetched before an
/// invalidation is not stored after it, so a racing event is never lost.
final class LookupCache: Sendable {
    private struct Entry {
        var result: LookupResult?
        var fetchedAt: ContinuousClock.Instant = .now
        var generation: UInt64 = 0
    }

    private let maxAge: Duration
    private let entries = Mutex<[String: Entry]>([:])
    private let allGeneration = Atomic<UInt64>(0)

    init(maxAge: Duration) { self.maxAge = maxAge }

    /// The cached result for `service` if it is fresh, and the generation to store under.
    func get(_ service: String) -> (result: LookupResult?, generation: UInt64) {
        guard maxAge > .zero else { return (nil, 0) }
        return entries.withLock { e in
            let entry = e[service, default: Entry()]
            if let r = entry.result, ContinuousClock.now - entry.fetchedAt < maxAge { return (r, entry.generation) }
            return (nil, entry.generation)
        }
    }

    /// Stores `result` unless `service` was invalidated since `generation` was read.
    func store(_ result: LookupResult, generation: UInt64) {
        guard maxAge > .zero else { return }
        entries.withLock { e in
            guard e[result.service, default: Entry()].generation == generation else { return }
            e[result.service] = Entry(result: result, fetchedAt: .now, generation: generation)
        }
    }

    /// Drops `service`'s entry (a membership event named it).
    func invalidate(_ service: String) {
        entries.withLock { e in
            e[service, default: Entry()].generation += 1
            e[service]!.result = nil
        }
    }

    /// Drops every entry.
    func invalidateAll() {
        entries.withLock { e in
            for k in e.keys {
                e[k]!.generation += 1
                e[k]!.result = nil
            }
        }
    }
}
