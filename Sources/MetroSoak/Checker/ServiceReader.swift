import Logging
import MetroKit
import Profiles
import Recommendations

/// Reads what the services hold for a set of users, over rpc through the registry
/// (MetroKit's `RpcClient`, the services' own API types): every page of each
/// user's `profile.history`, and `recommendations.seen`. A call that fails is
/// tried again a few times (the system may still be settling after the last
/// fault); a user whose answer cannot be had is recorded as `.failed`, never
/// skipped. Calls run a few at a time.
struct ServiceReader: Sendable {
    let profiles: RpcClient
    let recommendations: RpcClient

    static let concurrency = 8
    static let attempts = 3
    static let pageSize = 100

    /// Both services' answers for `users`.
    func snapshot(users: Set<String>) async -> ServiceSnapshot {
        var snapshot = ServiceSnapshot()
        await withTaskGroup(of: (String, ServiceSnapshot.Read<[String: Int]>, ServiceSnapshot.Read<[String: Int]>).self)
        { group in
            var pending = users.sorted()[...]
            func addNext() {
                guard let user = pending.popFirst() else { return }
                group.addTask { (user, await history(user), await seen(user)) }
            }
            for _ in 0..<Self.concurrency { addNext() }
            while let (user, history, seen) = await group.next() {
                snapshot.histories[user] = history
                snapshot.seen[user] = seen
                addNext()
            }
        }
        return snapshot
    }

    /// Event id → occurrences over every page of the user's history.
    func history(_ user: String) async -> ServiceSnapshot.Read<[String: Int]> {
        var counts: [String: Int] = [:]
        var cursor: String?
        repeat {
            let request = HistoryRequest(userId: user, limit: Self.pageSize, cursor: cursor)
            switch await retrying({ try await profiles.call(ProfilesAPI.history, request) }) {
            case .success(let page):
                for entry in page.entries { counts[entry.eventId, default: 0] += 1 }
                cursor = page.nextCursor
            case .failure(let e):
                return .failed("profile.history: \(e)")
            }
        } while cursor != nil
        return .value(counts)
    }

    /// Video id → the model's view count for the user.
    func seen(_ user: String) async -> ServiceSnapshot.Read<[String: Int]> {
        switch await retrying({ try await recommendations.call(RecommendationsAPI.seen, SeenRequest(userId: user)) }) {
        case .success(let list):
            return .value(Dictionary(list.views.map { ($0.videoId, $0.count) }, uniquingKeysWith: +))
        case .failure(let e):
            return .failed("recommendations.seen: \(e)")
        }
    }

    private func retrying<T: Sendable>(_ call: @Sendable () async throws -> T) async -> Result<T, any Error> {
        var last: (any Error)?
        for attempt in 0..<Self.attempts {
            do { return .success(try await call()) } catch { last = error }
            // A short pause before the next attempt: a restarted worker registers within ~1 s.
            if attempt + 1 < Self.attempts { try? await Task.sleep(for: .milliseconds(300 * (attempt + 1))) }
        }
        return .failure(last!)
    }
}
