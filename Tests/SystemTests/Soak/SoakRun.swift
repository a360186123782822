import Foundation
import Logging
import MetroKit
import MetroProtocol
import MetroSoak
import MetroTestKit
import Profiles
import Recommendations
import VideoProcessing

/// A small soak run driven by hand, recorded as `metro soak` records one: the
/// stack, the checker watching from the run's start, and the history so far.
final class SoakRun: @unchecked Sendable {
    static let users = 3
    static let uploads = 3
    static let views = 40
    static let recommends = 5

    let stack: ServiceStack
    let checker: SoakChecker
    private(set) var history: SoakHistory
    private let began = ContinuousClock.now

    private init(stack: ServiceStack, checker: SoakChecker, history: SoakHistory) {
        self.stack = stack
        self.checker = checker
        self.history = history
    }

    /// The stack (profiles, one synthetic video worker, recommendations) and a checker
    /// watching the journal from the broker's head.
    static func start() async throws -> SoakRun {
        let stack = try await ServiceStack()
        try await stack.start(ProfilesKind.self)
        try await stack.start(VideoKind.self, extra: ["--synthetic-work-ms", "5"])
        try await stack.start(RecommendationsKind.self)
        let head = try await stack.broker.stats().headSeq
        let endpoints = SoakEndpoints(
            ingest: stack.broker.ingest, events: stack.broker.events, replay: stack.broker.consume,
            consume: stack.broker.consume, registry: stack.registryEndpoint)
        let checker = SoakChecker(endpoints: endpoints, logger: Logger(label: "soak-checker-test"))
        try await checker.start(fromSeq: head + 1)
        return SoakRun(stack: stack, checker: checker, history: SoakHistory(startedAt: Date(), startSeq: head))
    }

    private var nowNs: UInt64 {
        let d = ContinuousClock.now - began
        return UInt64(d.components.seconds) * 1_000_000_000 + UInt64(d.components.attoseconds / 1_000_000_000)
    }

    /// Records one operation: `body` gives (outcome, filled-in operation fields).
    private func record(
        _ kind: SoakOperation.Kind, via: String, deadlineMs: UInt32? = nil,
        _ body: (inout SoakOperation) async throws -> Void
    ) async {
        var op = SoakOperation(kind: kind, startNs: nowNs, endNs: 0, outcome: .ok, deadlineMs: deadlineMs, via: via)
        do {
            try await body(&op)
        } catch {
            op.outcome = .failed
            op.error = "\(error)"
        }
        op.endNs = nowNs
        history.operations.append(op)
    }

    /// Adds an operation as recorded (a test planting what the system did not do).
    func append(_ operation: SoakOperation) { history.operations.append(operation) }

    /// Sign-ups, synthetic uploads, acknowledged views (each reported to the checker)
    /// and recommendation requests, with process samples along the way (enough for
    /// `rss-bounded` to judge each process over the run's last half). `midway` runs
    /// after half the views (a fault, as the soak's chaos would inject one).
    func drive(midway: (() async throws -> Void)? = nil) async throws {
        sample()
        var users: [String] = []
        for i in 0..<Self.users {
            await record(.signUp, via: "rpc", deadlineMs: 5000) { op in
                let user = try await stack.call(
                    ProfilesAPI.create,
                    CreateProfileRequest(displayName: "Soak \(i)", email: "soak\(i)-\(UUID().uuidString)@example.com"),
                    deadline: .seconds(5))
                op.userId = user.id
                users.append(user.id)
            }
        }
        var videos: [String] = []
        for i in 0..<Self.uploads {
            await record(.upload, via: "rpc", deadlineMs: 5000) { op in
                let bytes = Data((0..<256).map { UInt8(truncatingIfNeeded: $0 &* (i + 7)) })
                let video = try await stack.call(
                    VideoAPI.upload,
                    UploadRequest(
                        ownerId: users[i % users.count], title: "Soak clip \(i)", tags: ["soak"],
                        contentType: "video/mp4", data: bytes.base64EncodedString()),
                    deadline: .seconds(5))
                op.videoId = video.videoId
                op.userId = video.ownerId
                videos.append(video.videoId)
            }
        }
        for i in 0..<Self.views {
            if i == Self.views / 2, let midway { try await midway() }
            let (user, video, id) = (users[i % users.count], videos[i % videos.count], "soak-view-\(UUID().uuidString)")
            await record(.view, via: "broker") { op in
                (op.userId, op.videoId, op.eventId) = (user, video, id)
                let payload =
                    #"{"userId":"\#(user)","videoId":"\#(video)","watchedAtMs":\#(Int64(Date().timeIntervalSince1970 * 1000))}"#
                op.seq = try await stack.publisher.publish(
                    topic: "video.watched", payload: Array(payload.utf8), headers: Array(#"{"schema":"1.0"}"#.utf8),
                    eventID: Array(id.utf8))
            }
            if i % 10 == 9 { sample() }
            if history.operations.last?.outcome == .ok {
                await checker.viewAcknowledged(userId: user, videoId: video, eventId: id, ackNs: nowNs)
            }
        }
        for i in 0..<Self.recommends {
            await record(.recommend, via: "rpc", deadlineMs: 2000) { op in
                op.userId = users[i % users.count]
                _ = try await stack.call(
                    RecommendationsAPI.get, GetRecommendationsRequest(userId: op.userId!), deadline: .seconds(2))
            }
        }
        sample()
    }

    /// kill -9 of the broker and a restart on its ports and journal, recorded as
    /// the soak records a fault: whole again once an acknowledged probe publish
    /// has its ACK.
    func crashBroker() async throws {
        let startNs = nowNs
        let pid = stack.broker.process.pid
        await stack.broker.kill9()
        try await stack.broker.restart()
        _ = try await stack.publisher.publish(
            topic: "soak.probe", payload: Array("{}".utf8), eventID: Array("soak-probe-\(UUID().uuidString)".utf8))
        history.faults.append(
            SoakFault(
                kind: .kill, target: "broker", startNs: startNs, endNs: startNs, wholeAgainNs: nowNs,
                detail: "pid \(pid) killed; restarted as pid \(stack.broker.process.pid)"))
    }

    /// One RSS sample of each process of the stack, from /proc.
    private func sample() {
        var processes: [(String, Int32)] = [("broker", stack.broker.process.pid)]
        processes.append(("registry", stack.registryPid))
        for w in stack.workers(ProfilesKind.self) { processes.append(("profiles", w.process.pid)) }
        for w in stack.workers(VideoKind.self) { processes.append(("video", w.process.pid)) }
        for w in stack.workers(RecommendationsKind.self) { processes.append(("recommendations", w.process.pid)) }
        let t = nowNs
        for (name, pid) in processes {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                let kib = UInt64(line.split(whereSeparator: { $0 == " " || $0 == "\t" })[1])
            else { continue }
            history.samples.append(ProcessSample(name: name, pid: pid, tNs: t, rssBytes: kib * 1024, cpuSeconds: 0))
        }
    }
}

extension ServiceStack {
    var registryEndpoint: String { registry.endpoint }
    var registryPid: Int32 { registry.process.pid }
}
