package import MetroProtocol
package import MetroSecurity
package import ZeroMQ

extension RegistryServer {
    /// How a registry server binds and serves (all with defaults fit for loopback).
    package struct Configuration: Sendable {
        /// Where the ROUTER socket binds; `tcp://127.0.0.1:*` picks a free port.
        package var endpoint: String
        /// The broker's fire-and-forget publish endpoint (XSUB); nil: events are not published.
        package var brokerEndpoint: String?
        /// Leases a REGISTER may ask for, in milliseconds (§5.4).
        package var ttlRange: ClosedRange<UInt64>
        /// The longest the loop waits before sweeping expired leases. Expiry is prompt
        /// anyway (the loop wakes when the earliest lease ends); this bounds clock drift.
        package var sweepIntervalMilliseconds: Int
        /// ZeroMQ's own message limit: a peer sending a larger frame is disconnected
        /// without a reply (§2.6). Requests above `RegistryLimits.maxRequestBytes` but
        /// under this limit get 105.
        package var maxMessageBytes: Int
        /// CURVE on the registry's socket, with a ZAP handler admitting the clients the
        /// authenticator lists (protocol.md §7); nil: plain ZMTP, as before.
        package var security: CurveServer? = nil
        /// The registry's credentials for a CURVE broker (its PUB to `brokerEndpoint`).
        package var brokerCurve: CurveCredentials? = nil
        /// For this long after it starts, LOOKUP replies say `warming` (§5.7): live
        /// instances registered with a previous run may not have registered again
        /// yet (they do at their next heartbeat), so callers keep those they knew.
        /// At least the longest heartbeat interval of the instances.
        package var warmUpMilliseconds: UInt64 = 15_000

        package init(
            endpoint: String = "tcp://127.0.0.1:7400",
            brokerEndpoint: String? = nil,
            ttlRange: ClosedRange<UInt64> = RegistryLimits.defaultTTLRange,
            sweepIntervalMilliseconds: Int = 100,
            maxMessageBytes: Int = 1 << 20
        ) {
            self.endpoint = endpoint
            self.brokerEndpoint = brokerEndpoint
            self.ttlRange = ttlRange
            self.sweepIntervalMilliseconds = sweepIntervalMilliseconds
            self.maxMessageBytes = maxMessageBytes
        }
    }
}
