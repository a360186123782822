/// Field limits of the broker's frames (protocol.md §4.1).
public enum BrokerLimits {
    /// Event ids are 1...64 bytes (§2.5).
    public static let maxEventIDBytes = 64
    /// The headers frame of an event is at most 64 KiB.
    public static let maxHeadersBytes = 64 * 1024
    /// Hello tokens (§4.4.2) are 1...64 bytes of `[A-Za-z0-9_-]`.
    public static let maxHelloTokenBytes = 64
}
