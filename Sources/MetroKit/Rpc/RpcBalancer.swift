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
        /// Whether the transport said its connection broke (and no handshake succeeded
        /// since). Such an instance is never picked: a call queued on a connection
        /// that libzmq is still trying to re-establish would only wait for its deadline.
        var down: Bool = false
    }

    /// Why no instance was picked.
    enum NoPick: Error, Equatable, Sendable {
        /// There are no instances, or every one was already tried or is disconnected.
        case noInstance
        /// Some instance is left, but every one of them has an open circuit.
        case circuitOpen
    }

    /// Where the next round-robin tie-break starts.
    private var cursor = 0

    /// The index of the instance to call, or why there is none.
    mutating func pick(_ candidates: [Candidate]) -> Result<Int, NoPick> {
        let usable = candidates.indices.filter { !candidates[$0].tried && !candidates[$0].down }
        guard !usable.isEmpty else { return .failure(.noInstance) }
        let pool = usable.filter { candidates[$0].available }
        guard !pool.isEmpty else { return .failure(.circuitOpen) }
        let least = pool.map { candidates[$0].outstanding }.min()!
        let ties = pool.filter { candidates[$0].outstanding == least }
        let n = candidates.count
        let chosen = ties.min { ($0 - cursor + n) % n < ($1 - cursor + n) % n }!
        cursor = (chosen + 1) % n
        return .success(chosen)
    }
}
