import MetroBroker
import MetroProtocol
import Testing

/// The bounded per-prefix traffic table behind STATS `topics` (protocol.md §4.5).
@Suite struct TopicCountersTests {
    private func countIn(_ c: TopicCounters, _ topic: String, _ n: Int = 1) {
        for _ in 0..<n { Array(topic.utf8).withUnsafeBytes { c.countIn($0) } }
    }

    @Test func countsByFirstDottedSegment() {
        let c = TopicCounters()
        countIn(c, "video.uploaded", 3)
        countIn(c, "video.processed")
        countIn(c, "profile.created")
        countIn(c, "plain")
        c.countOut("video.uploaded")
        c.countOut("$metro.dead.workers")
        let (topics, other) = c.snapshot()
        #expect(topics["video"] == TopicFlow(in: 4, out: 1))
        #expect(topics["profile"] == TopicFlow(in: 1, out: 0))
        #expect(topics["plain"] == TopicFlow(in: 1, out: 0))
        #expect(topics["$metro"] == TopicFlow(in: 0, out: 1))
        #expect(other == TopicFlow(in: 0, out: 0))
    }

    /// Invented topics cannot grow the table: past `capacity` prefixes their
    /// events count in `other`, and STATS names only the `reported` busiest.
    @Test func staysBoundedAndReportsTheBusiest() {
        let c = TopicCounters()
        countIn(c, "busy.x", 1000)
        for i in 0..<(TopicCounters.capacity + 50) { countIn(c, "t\(i).x") }
        let (topics, other) = c.snapshot()
        #expect(topics.count == TopicCounters.reported)
        #expect(topics["busy"] == TopicFlow(in: 1000, out: 0))
        let total = topics.values.reduce(other.in) { $0 + $1.in }
        #expect(total == 1000 + UInt64(TopicCounters.capacity + 50))
        // A prefix tracked before the table filled still counts by name.
        countIn(c, "busy.y")
        #expect(c.snapshot().topics["busy"]?.in == 1001)
    }
}
