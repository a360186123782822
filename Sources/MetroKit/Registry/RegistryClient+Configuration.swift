public import ZeroMQ

extension RegistryClient {
    /// How the client reaches the registry (Lazy Pirate: protocol.md §5.11).
    public struct Configuration: Sendable {
        /// Registry endpoints, tried in turn: a timed-out attempt moves to the next one.
        public var endpoints: [String]
        /// How long one attempt waits for its reply.
        public var requestTimeout: Duration
        /// Attempts per request (first try included) before `unreachable`.
        public var attempts: Int
        /// The broker's events (XPUB) endpoint; when set, the lookup cache follows
        /// `$registry.*` events and `membershipEvents()` streams them.
        public var eventsEndpoint: String?
        /// How long a cached LOOKUP is served without asking again (zero disables the
        /// cache). Events invalidate entries earlier; without `eventsEndpoint` nothing
        /// does, so the client caps the age at one second.
        public var cacheMaxAge: Duration
        /// CURVE to a registry with it on (protocol.md §7): this client's key pair and
        /// the registry's public key; nil (the default) speaks plain ZMTP.
        public var curve: CurveCredentials?
        /// CURVE to the broker's events socket (`eventsEndpoint`): the same client keys
        /// usually, with the broker's public key; nil speaks plain ZMTP.
        public var eventsCurve: CurveCredentials?

        /// Defaults: 1 s per attempt, 3 attempts, a 2 s cache. `endpoints` must not be
        /// empty and `attempts` at least 1 (programmer errors: they trap).
        public init(
            endpoints: [String], requestTimeout: Duration = .milliseconds(1000), attempts: Int = 3,
            eventsEndpoint: String? = nil, cacheMaxAge: Duration = .seconds(2)
        ) {
            precondition(!endpoints.isEmpty, "a registry client needs at least one endpoint")
            precondition(attempts >= 1, "a registry client makes at least one attempt")
            self.endpoints = endpoints
            self.requestTimeout = requestTimeout
            self.attempts = attempts
            self.eventsEndpoint = eventsEndpoint
            self.cacheMaxAge = cacheMaxAge
        }

        var timeoutMilliseconds: Int {
            max(1, Int(clamping: requestTimeout.inMilliseconds))
        }
    }
}
