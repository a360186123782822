public import Hummingbird
public import HummingbirdAuth

/// The request context of every gateway route: Hummingbird's core storage plus
/// what `GatewayMiddleware` sets before a route runs: the request id (accepted
/// from `X-Request-Id` or generated) and the deadline (`X-Request-Timeout`, capped);
/// and, when authentication is on, who is calling (`GatewayAuthenticator`).
public struct GatewayContext: AuthRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The correlation id: in the response, the rpc headers, published events' headers and logs.
    public var requestID = ""
    /// When the request's upstream work must end, on the process's monotonic clock.
    public var deadline = ContinuousClock.now
    /// The request's timeout (`deadline` is its start plus this).
    public var timeout: Duration = .seconds(5)
    /// The verified caller; nil when authentication is off or the route is open.
    public var identity: Principal?

    public init(source: Source) {
        coreContext = .init(source: source)
    }

    /// The time left before `deadline` (negative once it passed).
    public var remaining: Duration { deadline - .now }
}
