/// Picks the instance for the next call: the fewest outstanding requests among those
/// whose circuit lets a call through and that this call has not tried yet; ties are
/// broken round-robin, so an idle client still spreads calls over every instance.
/// Pure: the caller passes the candidates as they are now.
struct RpcBalancer: Sendable {
    /// What the balancer needs to know about one instance.
    struct Candidate: Sendable {
        var outstanding: Int
        /// Whether its circuit lets a call through (closed, or open past its cool-down).
        var available: Bool
        /// Whether this call already went to it (a retry goes elsewhere).
        var tried: Bool
        /// Whether it is known to be disconnected (the transport said so).
        var down: Bool = false
    }

    /// Why no instance was picked.
    enum NoPick: Error, Equatable, Sendable {
        /// There are no instances, or every one was already tried or is down.
        case noInstance
        /// Some instance is left, but every one of them has an open circuit.
        case circuitOpen
    }

    /// Where the next round-robin tie-break starts.
    private var cursor = 0

    /// The index of the instance to call, or why there is none. Instances that are
    /// down are used only when nothing else is left (a reconnect may be under way).
    mutating func pick(_ candidates: [Candidate]) -> Result<Int, NoPick> {
        let untried = candidates.indices.filter { !candidates[$0].tried }
        guard !untried.isEmpty else { return .failure(.noInstance) }
        let open = untried.filter { candidates[$0].available }
        guard !open.isEmpty else { return .failure(.circuitOpen) }
        let up = open.filter { !candidates[$0].down }
        let pool = up.isEmpty ? open : up
        let least = pool.map { candidates[$0].outstanding }.min()!
        let ties = pool.filter { candidates[$0].outstanding == least }
        let n = candidates.count
        let chosen = ties.min { ($0 - cursor + n) % n < ($1 - cursor + n) % n }!
        cursor = (chosen + 1) % n
        return .success(chosen)
    }
}
