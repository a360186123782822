import Foundation
import MetroProtocol
import MetroTestKit
import Testing

/// Every error status of the gateway, produced against real processes and checked
/// as an RFC 9457 problem with the request's id; the happy paths of the user routes.
@Suite(.serialized) struct GatewayErrorTests {
    @Test func userRoutesAnswerWithETagsAndProblems() async throws {
        let s = try await GatewayStack(gatewayArguments: ["--max-body-bytes", "1024"])
        let g = s.gateway

        // 201 with ETag and Location; the request id comes back.
        let created = try await g.post(
            "/v1/users", ["displayName": "Ada", "email": "ada@example.com", "favouriteTags": ["jazz"]],
            headers: ["X-Request-Id": "req-create-1"])
        #expect(created.status == 201)
        #expect(created.headers["x-request-id"] == "req-create-1")
        #expect(created.headers["etag"] == "\"1\"")
        let id = try #require(created.json["id"] as? String)
        #expect(created.headers["location"] == "/v1/users/\(id)")

        let got = try await g.get("/v1/users/\(id)")
        #expect(got.status == 200 && got.json["displayName"] as? String == "Ada")
        #expect(got.headers["etag"] == "\"1\"")
        #expect(got.headers["x-request-id"]?.isEmpty == false, "generated when absent")

        // 404 problem, with the request id in header and body.
        let missing = try await g.get("/v1/users/nobody", headers: ["X-Request-Id": "req-404"])
        #expect(missing.status == 404 && missing.isProblem)
        #expect(missing.json["requestId"] as? String == "req-404")
        #expect(missing.json["instance"] as? String == "/v1/users/nobody")
        #expect(missing.json["service"] as? String == "profiles")

        // 400 naming the field: a rule of the service, and a missing member.
        let badEmail = try await g.post("/v1/users", ["displayName": "Bo", "email": "not-an-email"])
        #expect(badEmail.status == 400 && badEmail.isProblem && badEmail.json["field"] as? String == "email")
        let noEmail = try await g.post("/v1/users", ["displayName": "Bo"])
        #expect(noEmail.status == 400 && noEmail.json["field"] as? String == "email")
        let badLimit = try await g.get("/v1/users/\(id)/history?limit=0")
        #expect(badLimit.status == 400 && badLimit.json["field"] as? String == "limit")
        let badTimeout = try await g.get("/v1/users/\(id)", headers: ["X-Request-Timeout": "soon"])
        #expect(badTimeout.status == 400 && badTimeout.json["field"] as? String == "X-Request-Timeout")

        // 409: a duplicate email; a stale If-Match. 428 without one.
        let duplicate = try await g.post("/v1/users", ["displayName": "Ada 2", "email": "ADA@example.com"])
        #expect(duplicate.status == 409 && duplicate.isProblem)
        let noMatch = try await g.patch("/v1/users/\(id)", ["displayName": "Ada L."])
        #expect(noMatch.status == 428 && noMatch.isProblem)
        let updated = try await g.patch("/v1/users/\(id)", ["displayName": "Ada L."], headers: ["If-Match": "\"1\""])
        #expect(updated.status == 200 && updated.headers["etag"] == "\"2\"")
        let stale = try await g.patch("/v1/users/\(id)", ["displayName": "Ada M."], headers: ["If-Match": "\"1\""])
        #expect(stale.status == 409 && stale.isProblem)

        // 413 over --max-body-bytes; 415 for a body that is not JSON.
        let big = try await g.post(
            "/v1/users", ["displayName": String(repeating: "x", count: 2000), "email": "a@b.cd"])
        #expect(big.status == 413 && big.isProblem)
        let text = try await HTTPTestClient.send(
            g.address, "POST", "/v1/users", headers: ["Content-Type": "text/plain"], body: Array("hi".utf8))
        #expect(text.status == 415 && text.isProblem)

        // No such route: a problem too; a known path with another method: 405 with Allow.
        let nowhere = try await g.get("/v2/nothing")
        #expect(nowhere.status == 404 && nowhere.isProblem)
        let delete = try await HTTPTestClient.send(g.address, "DELETE", "/v1/users/\(id)")
        #expect(delete.status == 405 && delete.isProblem && delete.headers["allow"] == "GET, HEAD, PATCH")
        // HEAD: the GET's status and headers, no body.
        let full = try await g.get("/v1/users/\(id)")
        let head = try await HTTPTestClient.send(g.address, "HEAD", "/v1/users/\(id)")
        #expect(head.status == 200 && head.body.isEmpty, "\(head.status) \(head.body.count) bytes")
        #expect(head.headers["content-length"] == "\(full.body.count)")
        #expect(head.headers["etag"] == full.headers["etag"])
        // A timeout of more digits than an Int holds is capped, not refused.
        let huge = try await g.get("/v1/users/\(id)", headers: ["X-Request-Timeout": "536848134133990555648"])
        #expect(huge.status == 200)

        // History through the gateway, after a view published by the gateway; the
        // event carries the request's id in its headers.
        let watched = try await LiveCollector(events: s.broker.events, prefixes: ["video.watched"])
        let view = try await g.post(
            "/v1/videos/vid-1/views", ["userId": id, "secondsWatched": 30], headers: ["X-Request-Id": "req-view-1"])
        #expect(view.status == 202 && (view.json["seq"] as? Int) != nil)
        try await eventually("the video.watched event") { !watched.events.isEmpty }
        let headers = try JSONDecoder().decode([String: String].self, from: Data(watched.events[0].headers))
        #expect(headers == ["schema": "1.0", "requestId": "req-view-1"])
        await watched.close()
        try await eventually("the view in the history") {
            let page = try await g.get("/v1/users/\(id)/history")
            return (page.json["entries"] as? [[String: Any]])?.first?["videoId"] as? String == "vid-1"
        }
    }

    @Test func uploadsRefuseWrongTypesAndSizesAnd503WithoutAVideoInstance() async throws {
        let s = try await GatewayStack(gatewayArguments: ["--max-upload-bytes", "1000"])
        let g = s.gateway
        let wrongType = try await HTTPTestClient.send(
            g.address, "POST", "/v1/videos?owner=u1&title=t", headers: ["Content-Type": "text/plain"],
            body: [1, 2, 3])
        #expect(wrongType.status == 415 && wrongType.isProblem)
        let tooBig = try await HTTPTestClient.send(
            g.address, "POST", "/v1/videos?owner=u1&title=t", headers: ["Content-Type": "video/mp4"],
            body: [UInt8](repeating: 7, count: 5000))
        #expect(tooBig.status == 413 && tooBig.isProblem)
        let noOwner = try await HTTPTestClient.send(
            g.address, "POST", "/v1/videos?title=t", headers: ["Content-Type": "video/mp4"], body: [1])
        #expect(noOwner.status == 400 && noOwner.json["field"] as? String == "owner")
        // No video instance is registered: 503 with Retry-After, at once.
        let noVideo = try await HTTPTestClient.send(
            g.address, "POST", "/v1/videos?owner=u1&title=t", headers: ["Content-Type": "video/mp4"], body: [1, 2])
        #expect(noVideo.status == 503 && noVideo.isProblem && noVideo.headers["retry-after"] == "1")
        let get = try await g.get("/v1/videos/v1")
        #expect(get.status == 503 && get.json["service"] as? String == "video")
        let badStatus = try await g.get("/v1/videos?status=lost")
        #expect(badStatus.status == 400 && badStatus.json["field"] as? String == "status")
    }

    @Test func aFrozenServiceGives504AtTheRequestsDeadline() async throws {
        let s = try await GatewayStack()
        let g = s.gateway
        let id = try await s.createUser("Cy")
        try await s.profiles.process.freeze()
        defer { s.profiles.process.thaw() }
        let start = ContinuousClock.now
        let late = try await g.get("/v1/users/\(id)", headers: ["X-Request-Timeout": "300"])
        let took = ContinuousClock.now - start
        #expect(late.status == 504 && late.isProblem && late.json["service"] as? String == "profiles")
        #expect(took >= .milliseconds(300) && took < .seconds(3), "answered at the deadline: \(took)")
    }

    /// The profiles worker's disk is full (the fault library preloaded): a sign-up is
    /// 503 `storage-failure` with `Retry-After: 5`, reads go on, and the same
    /// sign-up succeeds once the disk is back (nothing of the first was stored).
    @Test func aServiceWithAFullDiskGives503StorageFailureAndReadsGoOn() async throws {
        let disk = try FaultInjection(pathFilter: "profiles.sqlite")
        let s = try await GatewayStack(profilesEnvironment: try disk.environment)
        let g = s.gateway
        let ada = try await s.createUser("Ada")
        disk.fillDisk(true)
        let bob = ["displayName": "Bob", "email": "bob@example.com"]
        let refused = try await g.post("/v1/users", bob, headers: ["X-Request-Id": "req-full"])
        #expect(refused.status == 503 && refused.isProblem, "\(refused.text)")
        #expect(refused.json["type"] as? String == "urn:metro:problem:storage-failure")
        #expect(refused.headers["retry-after"] == "5")
        #expect((refused.json["detail"] as? String)?.contains("disk is full") == true, "\(refused.text)")
        #expect(refused.json["requestId"] as? String == "req-full")
        #expect(try await g.get("/v1/users/\(ada)").status == 200, "reads are served meanwhile")
        disk.fillDisk(false)
        let created = try await g.post("/v1/users", bob)
        #expect(created.status == 201, "not a conflict: nothing of the refused sign-up was stored")
    }

    @Test func operationsRoutes() async throws {
        let s = try await GatewayStack()
        let g = s.gateway
        #expect(try await g.get("/healthz").status == 200)
        try await eventually("ready") { try await g.get("/readyz").status == 200 }
        let services = try await g.get("/v1/services")
        let instances = try #require(services.json["instances"] as? [[String: Any]])
        #expect(instances.contains { $0["service"] as? String == "profiles" })
        _ = try await g.get("/v1/users/someone")
        let metrics = try await g.get("/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.text.contains("metro_gateway_requests_total{"))
        #expect(metrics.text.contains("route=\"/v1/users/{id}\""))
        #expect(metrics.text.contains("metro_gateway_rpc_calls_total{"))
        #expect(metrics.text.contains("metro_gateway_concurrency_limit{"))
        // The registry gone: /readyz says so.
        await s.registry.crash()
        try await eventually("not ready") {
            let r = try await g.get("/readyz")
            return r.status == 503 && r.isProblem
        }
    }
}
