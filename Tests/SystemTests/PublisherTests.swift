import Foundation
import MetroKit
import MetroProtocol
import MetroTestKit
import Testing
import ZeroMQ

/// MetroKit's Publisher against a ROUTER that never answers.
@Suite struct PublisherTests {
    @Test func cancellingAPublishEndsItAtOnce() async throws {
        let silent = try testContext.socket(.router)
        defer { silent.close() }
        let endpoint = try silent.bindResolved("tcp://127.0.0.1:*")
        let publisher = try Publisher(.init(ingest: endpoint))
        try await closing(publisher) {
            let task = Task { try await publisher.publish(topic: "a.b", payload: [1]) }
            // The request reaches the ROUTER: it is in flight.
            try await eventually("the PUBLISH at the silent ROUTER") {
                try silent.receiveMultipart(dontWait: true) != nil
            }
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
        }
    }

    @Test func aPublishGivesUpAfterItsDeadline() async throws {
        let silent = try testContext.socket(.router)
        defer { silent.close() }
        var options = Publisher.Options(ingest: try silent.bindResolved("tcp://127.0.0.1:*"))
        options.ackTimeout = .milliseconds(50)
        options.giveUpAfter = .milliseconds(300)
        let publisher = try Publisher(options)
        try await closing(publisher) {
            await #expect(throws: MetroClientError.self) { try await publisher.publish(topic: "a.b", payload: [1]) }
            // It retried with the same id meanwhile: first packed (§4.2.6), then plain.
            // The last retry may still be in ZeroMQ's queues when the publish gives up,
            // so the test reads until two sends have arrived, not just what is there now.
            var ids = Set<[UInt8]>()
            var count = 0
            try await eventually("a retry with the same id") {
                while let frames = try silent.receiveMultipart(dontWait: true) {
                    if frames[2] == PackedEvents.publishCommand {
                        frames[3].withUnsafeBytes { raw in
                            var events = PackedEvents.Iterator(raw)
                            while let e = events.next() { ids.insert([UInt8](e.id)) }
                        }
                    } else {
                        ids.insert(frames[3])
                    }
                    count += 1
                }
                return count >= 2
            }
            #expect(ids.count == 1)
        }
    }

    @Test func anUnusableEventIDFailsAtOnce() async throws {
        let silent = try testContext.socket(.router)
        defer { silent.close() }
        let publisher = try Publisher(.init(ingest: try silent.bindResolved("tcp://127.0.0.1:*")))
        try await closing(publisher) {
            for id in [[], [UInt8](repeating: 65, count: 65)] {
                await #expect(throws: MetroClientError.self) {
                    try await publisher.publish(topic: "a.b", payload: [1], eventID: id)
                }
            }
        }
    }

    @Test func closingFailsWaitingPublishes() async throws {
        let silent = try testContext.socket(.router)
        defer { silent.close() }
        let publisher = try Publisher(.init(ingest: try silent.bindResolved("tcp://127.0.0.1:*")))
        let task = Task { try await publisher.publish(topic: "a.b", payload: [1]) }
        try await eventually("the PUBLISH at the silent ROUTER") { try silent.receiveMultipart(dontWait: true) != nil }
        await publisher.close()
        await #expect { try await task.value } throws: { ($0 as? MetroClientError)?.code == .closed }
    }
}
