import Synchronization

/// swift-metrics handles made once per key and reused, for metrics recorded on a
/// hot path (every HTTP request, every rpc answer). Making a handle is not free
/// even when the backend already has the series: swift-metrics takes its factory
/// lock, and the Prometheus backend validates the name and labels, hashes them and
/// looks them up under its registry's lock (docs/performance.md, "Gateway").
/// Here a hit is one lock and one dictionary lookup by a small key.
///
/// Handles are made on first use, so a process that bootstraps its backend before
/// the first request records into it (`metro` bootstraps first thing). At most
/// `capacity` keys are kept: past it a new key's handles are made each time, as
/// before, so a client sending endless distinct labels (an unknown HTTP method)
/// cannot grow this cache.
///
/// Threading: `Sendable`; any thread. `make` runs outside the lock.
public final class MetricHandles<Key: Hashable & Sendable, Handles: Sendable>: Sendable {
    private let made = Mutex<[Key: Handles]>([:])
    private let make: @Sendable (Key) -> Handles
    private let capacity: Int

    public init(capacity: Int = 1024, _ make: @escaping @Sendable (Key) -> Handles) {
        self.capacity = capacity
        self.make = make
    }

    /// The handles of `key`, made now if this is its first use.
    public subscript(key: Key) -> Handles {
        if let handles = made.withLock({ $0[key] }) { return handles }
        let fresh = make(key)
        return made.withLock { m in
            if let raced = m[key] { return raced }
            if m.count < capacity { m[key] = fresh }
            return fresh
        }
    }
}
