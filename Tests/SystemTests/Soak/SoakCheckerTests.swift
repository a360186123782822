import Foundation
import GRDB
import Logging
import MetroKit
import MetroProtocol
import MetroSoak
import MetroTestKit
import Profiles
import Recommendations
import Testing
import VideoProcessing

/// The soak checker against real processes (broker, registry, profiles, a video
/// worker with synthetic processing, recommendations on a `ServiceStack`): the
/// test drives a small history itself as `metro soak` would (sign-ups, synthetic
/// uploads, acknowledged views, recommendation requests), recording each
/// `SoakOperation`, then hands it to `SoakChecker.finish`. Unplanted, every
/// invariant holds; with a violation planted in a service's database, the
/// matching invariant fails and names what was planted. Serialized: five
/// processes per test on a 2-core machine.
@Suite(.serialized) struct SoakCheckerTests {
    @Test func everyInvariantHoldsOverAHonestRun() async throws {
        let run = try await SoakRun.start()
        try await closing(run.stack) {
            try await run.drive()
            let result = await run.checker.finish(history: run.history, drainTimeout: .seconds(30))
            let names = result.verdicts.map(\.name)
            #expect(names == SoakInvariant.allCases.map(\.rawValue))
            for v in result.verdicts {
                #expect(v.holds, "\(v.name): \(v.detail) \(v.offending)")
                #expect(v.checked > 0, "\(v.name) checked nothing: \(v.detail)")
            }
            #expect(result.latenciesMs["upload→processed"]?.count == SoakRun.uploads)
            #expect(!(result.latenciesMs["view→visible"] ?? []).isEmpty)
            #expect(await run.checker.liveViolationCount() == 0)
        }
    }

    /// A view's row deleted from the profiles worker's `watch_history` after it was
    /// applied (the inbox still says the event was handled, so nothing re-applies it).
    @Test func aViewDeletedFromTheHistoryFailsViewsInHistoryOnce() async throws {
        let run = try await SoakRun.start()
        try await closing(run.stack) {
            try await run.drive()
            let planted = try #require(run.history.operations.last { $0.kind == .view }?.eventId)
            let profiles = run.stack.workers(ProfilesKind.self)[0]
            try await eventually("the view is in the history") {
                try profiles.read {
                    try Int.fetchOne(
                        $0, sql: "SELECT COUNT(*) FROM watch_history WHERE event_id = ?", arguments: [planted])
                } == 1
            }
            try profiles.write {
                try $0.execute(sql: "DELETE FROM watch_history WHERE event_id = ?", arguments: [planted])
            }

            let result = await run.checker.finish(history: run.history, drainTimeout: .seconds(30))
            let failed = result.verdicts.filter { !$0.holds }
            #expect(failed.map(\.name) == ["views-in-history-once"], "\(failed.map { "\($0.name): \($0.detail)" })")
            #expect(failed.first?.offending == [planted])
        }
    }

    /// A view counted twice in the model: `recommendations.seen` for the pair is one too many.
    @Test func aViewCountedTwiceInTheModelFailsViewsInModelOnce() async throws {
        let run = try await SoakRun.start()
        try await closing(run.stack) {
            try await run.drive()
            let view = try #require(run.history.operations.last { $0.kind == .view })
            let (user, video) = (view.userId!, view.videoId!)
            let reco = run.stack.workers(RecommendationsKind.self)[0]
            try await eventually("the group drained") {
                try await run.stack.group(Recommendations.group).map { $0.lag == 0 && $0.pending == 0 } ?? false
            }
            try reco.write {
                try $0.execute(
                    sql: "UPDATE reco_user_items SET views = views + 1 WHERE user_id = ? AND video_id = ?",
                    arguments: [user, video])
            }

            let result = await run.checker.finish(history: run.history, drainTimeout: .seconds(30))
            let failed = result.verdicts.filter { !$0.holds }
            #expect(failed.map(\.name) == ["views-in-model-once"], "\(failed.map { "\($0.name): \($0.detail)" })")
            #expect(failed.first?.offending == ["\(user)/\(video)"])
        }
    }

    /// An ACK the journal does not back: the history claims a view acknowledged at a
    /// seq where the journal holds another event (as a broker that ACKed and then
    /// lost the event would leave it). The view is also missing from the history
    /// and the model, so those two fail as well, each naming it.
    @Test func anAckedEventMissingFromTheJournalFailsAckedEventsInJournal() async throws {
        let run = try await SoakRun.start()
        try await closing(run.stack) {
            try await run.drive()
            let real = try #require(run.history.operations.last { $0.kind == .view })
            var lost = real
            lost.eventId = "soak-view-lost"
            run.append(lost)

            let result = await run.checker.finish(history: run.history, drainTimeout: .seconds(30))
            let failed = Dictionary(uniqueKeysWithValues: result.verdicts.filter { !$0.holds }.map { ($0.name, $0) })
            #expect(
                Set(failed.keys) == ["acked-events-in-journal", "views-in-history-once", "views-in-model-once"],
                "\(failed.values.map { "\($0.name): \($0.detail)" })")
            #expect(failed["acked-events-in-journal"]?.offending == ["soak-view-lost"])
            #expect(
                failed["acked-events-in-journal"]?.detail.contains("the journal has \(real.eventId!) there") == true)
            #expect(failed["views-in-history-once"]?.offending == ["soak-view-lost"])
            #expect(failed["views-in-model-once"]?.offending == ["\(real.userId!)/\(real.videoId!)"])
        }
    }

    /// kill -9 of the broker halfway through, then a restart: the journal's seqs
    /// jump (protocol.md §4.1) and every invariant still holds, the jump explained
    /// by the recorded fault. The same history without the fault fails
    /// `seqs-increase-ids-unique` on that jump: the rule is not vacuous.
    @Test func aBrokerCrashMidwayKeepsEveryInvariant() async throws {
        let run = try await SoakRun.start()
        try await closing(run.stack) {
            try await run.drive(midway: { try await run.crashBroker() })
            let result = await run.checker.finish(history: run.history, drainTimeout: .seconds(30))
            for v in result.verdicts { #expect(v.holds, "\(v.name): \(v.detail) \(v.offending)") }
            let seqs = try #require(result.verdicts.first { $0.name == "seqs-increase-ids-unique" })
            #expect(seqs.detail.contains("1 seq jumps (1 broker faults could explain jumps)"), "\(seqs.detail)")

            let unexplained = JournalInvariants.checkSeqs(
                readBack: await JournalReader.read(replay: run.stack.broker.consume, from: run.history.startSeq + 1),
                faults: [], startedAt: run.history.startedAt, endNs: 0)
            #expect(!unexplained.holds)
            #expect(unexplained.detail.contains("outside every broker fault"), "\(unexplained.detail)")
        }
    }
}
