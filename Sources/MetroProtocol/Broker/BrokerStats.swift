/// The broker's counters, as the STATS reply carries them (JSON, protocol.md §4.5).
/// Every counter only grows while the broker runs; they restart at 0 with it.
package struct BrokerStats: Codable, Sendable, Equatable {
    /// Messages received on the ingest and publish sockets (valid or not).
    package var received: UInt64 = 0
    /// Events accepted and given a seq (acknowledged and fire-and-forget).
    package var accepted: UInt64 = 0
    /// ACKs sent (first ACKs and ACKs of retries).
    package var acked: UInt64 = 0
    /// Retried publishes answered from the dedupe window, not stored again.
    package var deduplicated: UInt64 = 0
    /// Events handed to the events socket.
    package var delivered: UInt64 = 0
    /// Requests answered with ERROR on a request socket.
    package var rejected: UInt64 = 0
    /// Messages dropped, by cause (`invalid_topic`, `malformed`, `ack_unroutable`, ...).
    package var dropped: [String: UInt64] = [:]
    /// Peer disconnections by socket (`ingest`, `publish`, `events`, `consume`), as the
    /// socket monitor reports them. ZeroMQ disconnects a peer that sends a frame over
    /// the size limit, so oversized input shows here (among ordinary disconnections).
    package var disconnects: [String: UInt64] = [:]
    /// Bytes written to the journal.
    package var journalBytes: UInt64 = 0
    /// fdatasync calls made on the journal.
    package var fsyncs: UInt64 = 0
    /// Nanoseconds spent inside those fdatasync calls (their sum).
    package var fsyncNanoseconds: UInt64 = 0
    /// The last seq assigned (0 before the first event).
    package var headSeq: UInt64 = 0
    /// The seq of the oldest event the journal holds (0 while it holds none):
    /// nothing below it can be replayed or delivered again. Optional on decoding,
    /// for brokers that predate it.
    package var firstSeq: UInt64? = nil
    /// The seq through which the journal is durable under the fsync policy.
    package var durableSeq: UInt64 = 0
    /// Segment files in the journal.
    package var segments: Int = 0
    /// Distinct prefixes subscribed on the events socket (XPUB reports each prefix
    /// once, when its first subscriber comes, and again when its last one leaves).
    package var subscriptions: Int = 0

    /// Replays started on the consume socket (§4.9).
    package var replays: UInt64 = 0
    /// Events sent by replays.
    package var replayed: UInt64 = 0
    /// Replays in progress.
    package var activeReplays: Int = 0
    /// Replays that ended at a damaged journal record (ERROR 206, §4.9): each one
    /// is a client that skipped (or stopped before) an event the broker cannot
    /// read. Optional on decoding, for brokers that predate it.
    package var damagedReplays: UInt64? = nil

    /// Consumer groups by name (§4.10).
    package var groups: [String: GroupStats] = [:]

    /// The background check of the journal's sealed segments; nil when it is off
    /// (`journal.scrubIntervalSeconds: 0`) or the broker predates it.
    package var scrub: ScrubStats? = nil

    /// Events in and out by topic prefix (the first dotted segment): the 32
    /// busiest of at most 64 tracked prefixes (§4.5).
    package var topics: [String: TopicFlow] = [:]
    /// The events of every prefix not in `topics`.
    package var otherTopics = TopicFlow(in: 0, out: 0)
    /// The broker's resident memory now, in bytes (/proc/self/statm).
    package var rssBytes: UInt64 = 0
    /// The journal's size on disk now: every segment's data and index files.
    package var journalSizeBytes: UInt64 = 0

    package init() {}

    package var totalDropped: UInt64 { dropped.values.reduce(0, +) }
}

/// The journal scrub's figures in STATS (§4.5): every sealed segment read whole
/// and each record's checksum checked, in the background.
package struct ScrubStats: Codable, Sendable, Equatable {
    /// Passes over every sealed segment finished since the broker started.
    package var passes: UInt64
    /// Bytes of segments read by them (and by the pass under way).
    package var bytesRead: UInt64
    /// Sealed segments with a damaged record, found by the last finished pass.
    package var damagedSegments: Int
    /// When the last pass ended (Unix ms); 0 before the first.
    package var lastPassEndedMs: UInt64

    package init(passes: UInt64, bytesRead: UInt64, damagedSegments: Int, lastPassEndedMs: UInt64) {
        self.passes = passes
        self.bytesRead = bytesRead
        self.damagedSegments = damagedSegments
        self.lastPassEndedMs = lastPassEndedMs
    }
}

/// One consumer group's figures in STATS (§4.5, §4.10).
package struct GroupStats: Codable, Sendable, Equatable {
    /// Members connected now.
    package var members: Int
    /// Events taken by the group and not yet ACKed (held by members or waiting).
    package var pending: Int
    /// Deliveries after the first (ACK timeout, NAK, lost member), since the broker started.
    package var redelivered: UInt64
    /// Events sent to `$metro.dead.<group>`, since the broker started.
    package var deadLettered: UInt64
    /// Events retention removed before the group had them ACKed, since the broker
    /// started: seqs skipped unread (every topic: an upper bound) plus pending
    /// events whose records were gone (protocol.md §4.10, "Retention").
    package var expired: UInt64
    /// The last journal seq the group has taken.
    package var position: UInt64
    /// Seqs between the position and the head (every topic: an upper bound on the
    /// events of the group's topics not yet taken).
    package var lag: UInt64
    /// Set while the group waits before a journal record it cannot read (§4.10.4).
    package var stalled: GroupStall?
    /// Damaged records an operator moved the group past (SKIP-DAMAGED), since the broker started.
    package var damagedSkipped: UInt64

    package init(
        members: Int, pending: Int, redelivered: UInt64, deadLettered: UInt64, expired: UInt64 = 0, position: UInt64,
        lag: UInt64, stalled: GroupStall? = nil, damagedSkipped: UInt64 = 0
    ) {
        self.stalled = stalled
        self.damagedSkipped = damagedSkipped
        self.members = members
        self.expired = expired
        self.pending = pending
        self.redelivered = redelivered
        self.deadLettered = deadLettered
        self.position = position
        self.lag = lag
    }
}

/// One topic prefix's traffic in STATS (§4.5): `in`, events journaled (published
/// or dead letters); `out`, events sent to group members and to replays.
package struct TopicFlow: Codable, Sendable, Equatable {
    package var `in`: UInt64
    package var out: UInt64

    package init(in: UInt64, out: UInt64) {
        self.in = `in`
        self.out = out
    }
}

/// Where a consumer group stopped: the journal record after its position cannot
/// be read (a checksum or framing failure), so the group waits before it rather
/// than skip it unseen (protocol.md §4.10.4).
package struct GroupStall: Codable, Sendable, Equatable {
    /// The record's seq as the segment's index names it (what SKIP-DAMAGED takes);
    /// nil when the index does not name a record at that offset.
    package var seq: UInt64?
    /// The segment file's name in the journal folder, and the record's offset in it.
    package var segment: String
    package var offset: Int64
    /// What the read found.
    package var error: String

    private static let repair = "repair it from a backup (system stopped: metro backup repair-journal --from BACKUP)"

    /// One line for an operator: where the group stands and the two ways out.
    package func explanation(group: String) -> String {
        let at = "offset \(offset) of \(segment)"
        guard let seq else {
            return "a damaged journal record at \(at), which the index does not name: \(Self.repair)"
        }
        return "before the damaged journal record \(seq) (\(at)): \(Self.repair), "
            + "or skip it for this group: metro broker skip-damaged \(group) --seq \(seq)"
    }

    package init(seq: UInt64?, segment: String, offset: Int64, error: String) {
        self.seq = seq
        self.segment = segment
        self.offset = offset
        self.error = error
    }
}
