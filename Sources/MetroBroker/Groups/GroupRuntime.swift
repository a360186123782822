import MetroProtocol

/// One consumer group inside the broker: its pure delivery state, the journal
/// cursor that feeds it new events (from `state.position + 1`), and the records it
/// has read and not yet seen ACKed, as the journal's bytes (so that a delivery needs
/// no journal read and a packed one no re-encoding; after a restart they are read
/// back through the index).
///
/// Threading: owned by the broker's loop thread (`GroupCoordinator`).
final class GroupRuntime {
    var state: ConsumerGroup
    /// Replaced only to move past a damaged record (SKIP-DAMAGED, §4.10.4).
    var cursor: JournalCursor
    /// Journal records as read (Appendix B bytes), by seq.
    var events: [UInt64: [UInt8]] = [:]
    let deadLetterTopic: String
    /// Where the group stopped, while its next record cannot be read: a damaged
    /// record stops the group before it and is tried again each turn (logged
    /// once, not once per turn), until it reads or an operator skips it (§4.10.4).
    var stall: GroupStall?
    /// Damaged records skipped by SKIP-DAMAGED since the broker started.
    var damagedSkipped: UInt64 = 0
    /// Pending events whose record could not be read back (logged once each).
    var unreadable: Set<UInt64> = []

    init(state: ConsumerGroup, cursor: JournalCursor) {
        self.state = state
        self.cursor = cursor
        deadLetterTopic = "$metro.dead." + state.name
    }

    /// Whether the group takes an event on `topic`. Reserved (`$`) topics match only
    /// prefixes that start with `$` themselves: a group of every topic must not take
    /// dead letters (its own would loop) or heartbeats of the registry.
    func matches(_ topic: some Collection<UInt8>) -> Bool {
        if topic.first == UInt8(ascii: "$") {
            return state.config.prefixes.contains { $0.first == UInt8(ascii: "$") && topic.starts(with: $0) }
        }
        return state.config.prefixes.isEmpty || state.config.prefixes.contains { topic.starts(with: $0) }
    }

    var durable: GroupStateCodec.Group {
        let d = state.durableState
        return GroupStateCodec.Group(name: state.name, config: state.config, position: d.position, pending: d.pending)
    }
}
