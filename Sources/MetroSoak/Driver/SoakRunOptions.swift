/// Everything `metro soak` was asked to do (SoakCommand parses the flags).
public struct SoakRunOptions: Sendable {
    public var seed: UInt64 = 1
    public var rate: Double = 50
    public var durationSeconds: Double = 60
    /// Operations in flight at most; an arrival beyond it is counted, not queued.
    public var concurrency = 64
    public var chaos = false
    /// Mean seconds between faults.
    public var faultInterval: Double = 25
    public var attach = false
    public var realMedia = false
    public var outFolder: String
    /// Start mode: the system's data folder (nil: a temporary one).
    public var dataDir: String?
    public var keepData = false
    public var mix = SoakMix.standard
    /// The `metro` binary to start (`metro up`) and beside which libMetroFaultInject.so is.
    public var metroBinary: String
    public var ingest: String?
    public var publish: String?
    public var events: String?
    public var consume: String?
    public var registry: String?
    /// host:port of the gateway; nil with `noGateway`.
    public var gateway: String?
    public var noGateway = false
    /// Passed to `metro up` as they are (`--video 2`, `--synthetic-work-ms 20`).
    public var upArguments: [String] = []
    public var drainTimeout: Duration = .seconds(60)
    /// Start mode: `metro up --secure` (CURVE on every socket, a bearer token at the gateway).
    public var secure = false
    /// Attach mode: a secure system's key folder (`--keys`); nil: plain ZMTP.
    public var keysFolder: String?
    /// Attach mode: the flags that name the system driven (endpoints given, `--keys`),
    /// as given, for the report's repeat command.
    public var attachFlags: [String] = []
    /// Reads a key folder into what the soak's clients need (the `metro` binary has
    /// the key files' format and the gateway's token minting; this module does not).
    public var loadSecurity: (@Sendable (_ keysFolder: String) async throws -> SoakSecurity)?
    /// Why a server may have been silent (` (it requires CURVE: ...)`), added to the
    /// message when the attached system's registry does not answer; "" when unknown.
    public var silenceReason: (@Sendable (_ endpoint: String, _ curve: Bool) -> String)?

    public init(outFolder: String, metroBinary: String) {
        self.outFolder = outFolder
        self.metroBinary = metroBinary
    }
}
