import Crypto
import Foundation
import Synchronization

/// Tokens that verified, by their SHA-256, with the principal and the expiry
/// their claims gave: a client sends the same token on every request, and
/// verifying it anew each time (jwt-kit: decode the header and the claims with
/// Foundation's JSONDecoder, one HMAC-SHA256, inside one actor that every
/// connection takes turns on) was most of what authentication cost
/// (docs/gateway-auth.md, "Cost").
///
/// - Only a token whose signature verified gets in, so filling the table takes
///   tokens signed with the secret, not guesses.
/// - A hit past the entry's expiry is refused as expired and dropped: a cached
///   token lives no longer than its `exp`.
/// - It belongs to one set of credentials (`GatewayAuth.Credentials`): a reload
///   that rotates the secret starts an empty table with it.
/// - Bounded: at `capacity` entries the expired ones go, and if that frees
///   nothing, all of them (the next requests verify again).
/// - Keyed by digest for the same reason as the API keys (`APIKeys`): a lookup's
///   time says nothing about how much of a cached token a guess matched.
final class VerifiedTokens: Sendable {
    struct Entry: Sendable {
        let principal: Principal
        let expires: Date
    }

    enum Lookup: Equatable {
        case miss
        case expired
        case hit(Principal)
    }

    let capacity: Int
    private let table = Mutex<[SHA256Digest: Entry]>([:])

    init(capacity: Int = 10_000) { self.capacity = capacity }

    static func digest(_ token: String) -> SHA256Digest { SHA256.hash(data: Array(token.utf8)) }

    var count: Int { table.withLock { $0.count } }

    func lookup(_ digest: SHA256Digest, now: Date = Date()) -> Lookup {
        table.withLock { table in
            guard let entry = table[digest] else { return .miss }
            guard entry.expires > now else {
                table[digest] = nil
                return .expired
            }
            return .hit(entry.principal)
        }
    }

    func insert(_ digest: SHA256Digest, _ entry: Entry, now: Date = Date()) {
        table.withLock { table in
            if table.count >= capacity, table[digest] == nil {
                table = table.filter { $0.value.expires > now }
                if table.count >= capacity { table.removeAll(keepingCapacity: true) }
            }
            table[digest] = entry
        }
    }
}
