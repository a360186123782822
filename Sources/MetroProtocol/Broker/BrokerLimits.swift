/// Field limits of the broker's frames (protocol.md §4.1).
package enum BrokerLimits {
    /// Event ids are 1...64 bytes (§2.5).
    package static let maxEventIDBytes = 64
    /// The headers frame of an event is at most 64 KiB.
    package static let maxHeadersBytes = 64 * 1024
    /// Hello tokens (§4.4.2) are 1...64 bytes of `[A-Za-z0-9_-]`.
    package static let maxHelloTokenBytes = 64

    /// A consumer group's `ackTimeoutMs` (JOIN, §4.10): 1 ms to 2^32−1 ms (~49.7
    /// days), the range of the u32 it is stored as (Appendix C) and of EXTEND's `ms`.
    package static let groupAckTimeoutMs: ClosedRange<Int> = 1...Int(UInt32.max)
    /// A consumer group's `maxDeliveries` (JOIN, §4.10). A delivery's `attempt` is
    /// a u32 and may reach `maxDeliveries + 1` (one more after a restart), so the
    /// bound keeps it, and the u32 of Appendix C, far from overflow.
    package static let groupMaxDeliveries: ClosedRange<Int> = 1...1_000_000
    /// The largest seq a broker hands out (§4.1): 2^63−1. Seqs travel as u64; the
    /// bound leaves room for every `seq + n` the broker and clients compute (a
    /// reservation block, a "next seq"), so none of them can overflow.
    package static let maxSeq: UInt64 = UInt64(Int64.max)
}
