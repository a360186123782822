import Foundation
import MetroKit
import MetroProtocol
import Profiles
import Recommendations
import VideoProcessing

/// One operation of each kind of the mix, run against the system and recorded
/// with its outcome: `ok` (answered / ACKed), `failed` (a clear error came back)
/// or `timedOut` (no answer within its deadline: it may have happened).
struct SoakOperations: Sendable {
    let clients: SoakClients
    let state: LoadState
    let recorder: HistoryRecorder
    let checker: SoakChecker
    /// A real clip's bytes (`--real-media`), else synthetic random bytes.
    let clip: [UInt8]?
    let seed: UInt64
    static let rpcDeadline: Duration = .seconds(5)
    static let publishDeadline: Duration = .seconds(10)

    /// Runs `kind` (or what it needs first: a sign-up while there is no user, an
    /// upload while no video is processed) and records it.
    func run(_ kind: SoakOperation.Kind) async {
        var kind = kind
        if kind != .signUp, await state.userCount == 0 { kind = .signUp }
        if kind == .view, await state.processedCount == 0 { kind = .upload }
        let op: SoakOperation
        switch kind {
        case .signUp: op = await signUp()
        case .profileEdit:
            guard let edited = await profileEdit() else { return }
            op = edited
        case .upload: op = await upload()
        case .view: op = await view()
        case .recommend: op = await recommend()
        }
        await recorder.record(op)
    }

    /// `timedOut` for every error after which the effect may have happened (MetroKit
    /// says so of timed-out, deadline-exceeded, disconnected, cancelled and closed;
    /// the gateway's 504 likewise): indeterminate, never counted as acknowledged,
    /// and never as "did not happen" either. `failed` only when it surely did not.
    private func rpcOutcome(_ error: any Error) -> (SoakOperation.Outcome, String) {
        if let e = error as? MetroClientError, Self.indeterminate.contains(e.code) { return (.timedOut, "\(e)") }
        if let e = error as? SoakHTTPStatus, e.status == 504 { return (.timedOut, "\(e)") }
        if let e = error as? SoakHTTPTransport, e.mayHaveHappened { return (.timedOut, "\(e)") }
        if error is CancellationError { return (.timedOut, "no answer within the deadline") }
        return (.failed, "\(error)")
    }

    private static let indeterminate: Set<MetroClientError.Code> = [
        .timedOut, .deadlineExceeded, .disconnected, .cancelled, .closed,
    ]

    private func operation(
        _ kind: SoakOperation.Kind, _ start: UInt64, _ result: Result<Void, any Error>, userId: String? = nil,
        videoId: String? = nil, deadline: Duration = rpcDeadline, via: String = "rpc"
    ) -> SoakOperation {
        let end = recorder.nowNs()
        var outcome = SoakOperation.Outcome.ok
        var error: String?
        if case .failure(let e) = result {
            let (o, text) = rpcOutcome(e)
            outcome = o
            error = text
        }
        return SoakOperation(
            kind: kind, startNs: start, endNs: end, outcome: outcome, error: error, userId: userId, videoId: videoId,
            deadlineMs: UInt32(deadline.components.seconds * 1000), via: via)
    }

    private func signUp() async -> SoakOperation {
        let n = await state.nextSignUpNumber()
        let request = CreateProfileRequest(
            displayName: "Soak user \(n)", email: "soak-\(seed)-\(n)@example.com", favouriteTags: ["soak"])
        let start = recorder.nowNs()
        do {
            let user = try await clients.profiles.call(ProfilesAPI.create, request, deadline: Self.rpcDeadline)
            await state.addUser(id: user.id, version: user.version)
            return operation(.signUp, start, .success(()), userId: user.id)
        } catch {
            return operation(.signUp, start, .failure(error))
        }
    }

    /// nil when every user it drew is being edited (nothing sent, nothing recorded).
    private func profileEdit() async -> SoakOperation? {
        guard let user = await state.beginEdit() else { return nil }
        let name = "Soak user \(Int(await state.unit() * 1_000_000))"
        let start = recorder.nowNs()
        do {
            let updated = try await clients.profiles.call(
                ProfilesAPI.update, UpdateProfileRequest(id: user.id, version: user.version, displayName: name),
                deadline: Self.rpcDeadline)
            await state.endEdit(id: user.id, newVersion: updated.version)
            return operation(.profileEdit, start, .success(()), userId: user.id)
        } catch {
            let op = operation(.profileEdit, start, .failure(error), userId: user.id)
            // A lost reply may have applied it: learn the version again before the next edit.
            let fresh = try? await clients.profiles.call(
                ProfilesAPI.get, GetProfileRequest(id: user.id), deadline: Self.rpcDeadline)
            await state.endEdit(id: user.id, newVersion: fresh?.version)
            return op
        }
    }

    /// Half of the uploads (by the seeded draw) go through the gateway when there
    /// is one (`POST /v1/videos`: `video.upload.begin`, `.bytes`, `.finish`), the
    /// rest by `video.upload` over rpc.
    private func upload() async -> SoakOperation {
        let owner = await state.pickUser() ?? ""
        let size = 512 + Int(await state.unit() * 1536)
        let bytes: [UInt8]
        if let clip { bytes = clip } else { bytes = await state.randomBytes(size) }
        if let gateway = clients.gateway, await state.unit() < 0.5 {
            return await uploadOverHTTP(gateway, owner, bytes)
        }
        let request = UploadRequest(
            ownerId: owner, title: "Soak clip \(UUID().uuidString.prefix(8))", tags: ["soak"],
            contentType: clip == nil ? "application/octet-stream" : "video/mp4",
            data: Data(bytes).base64EncodedString())
        let start = recorder.nowNs()
        do {
            let video = try await clients.video.call(VideoAPI.upload, request, deadline: Self.rpcDeadline)
            await state.uploaded(video.videoId)
            return operation(.upload, start, .success(()), userId: owner, videoId: video.videoId)
        } catch {
            // 407: the video is stored and its event waits in the outbox; with its
            // id the checker holds it to at most one outcome.
            let stored =
                error.wireCode == .publishPending ? Self.storedVideoID(in: error.wireError?.message ?? "") : nil
            return operation(.upload, start, .failure(error), userId: owner, videoId: stored)
        }
    }

    /// The id in a publish-pending message, "video <id> is stored, …" (protocol.md §6.4).
    static func storedVideoID(in message: String) -> String? {
        let words = message.split(separator: " ", maxSplits: 3)
        guard words.count == 4, words[0] == "video", words[2] == "is", words[3].hasPrefix("stored") else { return nil }
        return String(words[1])
    }

    private func uploadOverHTTP(_ gateway: String, _ owner: String, _ bytes: [UInt8]) async -> SoakOperation {
        let title = "Soak clip \(UUID().uuidString.prefix(8))"
        let query = "owner=\(Self.queryEscaped(owner))&title=\(Self.queryEscaped(title))&tags=soak"
        let start = recorder.nowNs()
        do {
            // The gateway takes video/* only; synthetic bytes go as video/mp4 too
            // (the synthetic step does not look at them; ffprobe fails them).
            let reply = try await clients.http.post(
                gateway, "/v1/videos?\(query)", body: Data(bytes), contentType: "video/mp4", timeout: Self.rpcDeadline)
            let answer = (try? JSONSerialization.jsonObject(with: reply.body)) as? [String: Any]
            guard reply.status == 202, let video = answer?["videoId"] as? String else {
                // A 503 publish-pending names the video it stored (held to at most one outcome).
                let stored = reply.status == 503 ? answer?["videoId"] as? String : nil
                return operation(
                    .upload, start, .failure(SoakHTTPStatus(status: reply.status, body: reply.body)), userId: owner,
                    videoId: stored, via: "http")
            }
            await state.uploaded(video)
            return operation(.upload, start, .success(()), userId: owner, videoId: video, via: "http")
        } catch let error as URLError where error.code == .timedOut {
            return operation(.upload, start, .failure(CancellationError()), userId: owner, via: "http")
        } catch let error as URLError {
            // Unless nothing was sent (no connection), the upload may have committed
            // before the connection went: indeterminate, as a timeout is.
            let transport = SoakHTTPTransport(error, mayHaveHappened: error.code != .cannotConnectToHost)
            return operation(.upload, start, .failure(transport), userId: owner, via: "http")
        } catch {
            return operation(.upload, start, .failure(error), userId: owner, via: "http")
        }
    }

    private static func queryEscaped(_ text: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    private func view() async -> SoakOperation {
        let user = await state.pickUser() ?? ""
        let video = await state.pickVideo() ?? ""
        let eventId = UUID().uuidString.lowercased()
        let payload: [String: Any] = [
            "userId": user, "videoId": video, "watchedAtMs": Int64(Date().timeIntervalSince1970 * 1000),
            "secondsWatched": Int(await state.unit() * 600),
        ]
        let body = Array((try? JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])) ?? Data())
        let publisher = clients.publisher
        let start = recorder.nowNs()
        var op = SoakOperation(
            kind: .view, startNs: start, endNs: start, outcome: .ok, userId: user, videoId: video, eventId: eventId,
            deadlineMs: UInt32(Self.publishDeadline.components.seconds * 1000), via: "broker")
        do {
            let seq = try await withDeadline(Self.publishDeadline) {
                try await publisher.publish(
                    topic: "video.watched", payload: body, headers: Array(#"{"schema":"1.0"}"#.utf8),
                    eventID: Array(eventId.utf8))
            }
            op.endNs = recorder.nowNs()
            if let seq {
                op.seq = seq
                await checker.viewAcknowledged(userId: user, videoId: video, eventId: eventId, ackNs: op.endNs)
            } else {
                op.outcome = .timedOut
                op.error = "no ACK within \(Self.publishDeadline)"
            }
        } catch {
            op.endNs = recorder.nowNs()
            let (outcome, text) = rpcOutcome(error)
            op.outcome = outcome
            op.error = text
        }
        return op
    }

    private func recommend() async -> SoakOperation {
        let user = await state.pickUser() ?? ""
        let start = recorder.nowNs()
        guard let gateway = clients.gateway else {
            do {
                _ = try await clients.recommendations.call(
                    RecommendationsAPI.get, GetRecommendationsRequest(userId: user, limit: 10),
                    deadline: Self.rpcDeadline)
                return operation(.recommend, start, .success(()), userId: user)
            } catch {
                return operation(.recommend, start, .failure(error), userId: user)
            }
        }
        let path =
            "/v1/users/\(user.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? user)"
            + "/recommendations"
        do {
            let reply = try await clients.http.get(gateway, path, timeout: Self.rpcDeadline)
            guard (200..<300).contains(reply.status) else {
                return operation(
                    .recommend, start, .failure(SoakHTTPStatus(status: reply.status, body: reply.body)), userId: user,
                    via: "http")
            }
            return operation(.recommend, start, .success(()), userId: user, via: "http")
        } catch let error as URLError where error.code == .timedOut {
            return operation(.recommend, start, .failure(CancellationError()), userId: user, via: "http")
        } catch let error as URLError {
            return operation(.recommend, start, .failure(SoakHTTPTransport(error)), userId: user, via: "http")
        } catch {
            return operation(.recommend, start, .failure(error), userId: user, via: "http")
        }
    }
}

/// A request that got no HTTP answer, said plainly: `NSError`'s own description
/// is a dictionary dump that differs by request (one report row per URL).
struct SoakHTTPTransport: Error, CustomStringConvertible {
    let code: URLError.Code
    /// The request may have been taken before the answer was lost (a write whose
    /// connection went after it was sent): indeterminate, like a timeout.
    let mayHaveHappened: Bool

    init(_ error: URLError, mayHaveHappened: Bool = false) {
        code = error.code
        self.mayHaveHappened = mayHaveHappened
    }

    var description: String {
        let what =
            switch code {
            case .cannotConnectToHost: "cannot connect to the gateway"
            case .networkConnectionLost: "the gateway closed the connection before answering"
            case .cannotFindHost: "cannot find the gateway's host"
            case .badServerResponse: "the gateway's answer was not HTTP"
            default: "no HTTP answer"
            }
        return "HTTP transport: \(what) (URLError \(code.rawValue))"
    }
}

/// A gateway answer that is not 2xx, in words: `HTTP 503 (unavailable): <the
/// problem's detail> [request <id>]` for an RFC 9457 body (the gateway's), so
/// the report's Failures table reads as sentences; any other body is kept as
/// its first 300 bytes. The soak once printed the raw JSON, escaped slashes and
/// all, cut off before the request id an operator greps the logs for.
struct SoakHTTPStatus: Error, CustomStringConvertible {
    let status: Int
    let description: String

    init(status: Int, body: Data) {
        self.status = status
        let problem = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        guard let detail = problem?["detail"] as? String else {
            description = "HTTP \(status): " + String(decoding: body.prefix(300), as: UTF8.self)
            return
        }
        // The kind, unless the detail starts with it already ("no-instance: no instance is left ...").
        let slug = (problem?["type"] as? String)?.split(separator: ":").last.map(String.init)
        let kind = slug.flatMap { detail.hasPrefix($0 + ":") ? nil : " (\($0))" } ?? ""
        let request = (problem?["requestId"] as? String).map { " [request \($0)]" } ?? ""
        description = "HTTP \(status)\(kind): \(detail)\(request)"
    }
}
