// hello-service: publishes greetings with acknowledged publish and works them
// off as a member of a durable consumer group, the two things every Metro
// service does. Run a broker first (`metro up` or `metro broker`), then
// `swift run HelloService [count]`.
import Foundation
import MetroKit
import MetroProtocol

let count = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 3
let ingest = ProcessInfo.processInfo.environment["METRO_INGEST"] ?? "tcp://127.0.0.1:7701"
let consume = ProcessInfo.processInfo.environment["METRO_CONSUME"] ?? "tcp://127.0.0.1:7704"

// A member of group "hello": each greeting goes to one member, at least once.
let consumer = try Consumer(
    .init(consume: consume, group: "hello", member: "hello-1", config: .init(prefixes: ["hello."])))
let publisher = try Publisher(.init(ingest: ingest))

// The event id makes a retry harmless: the broker answers it with the first seq.
let run = UUID().uuidString.prefix(8)
for i in 1...count {
    let seq = try await publisher.publish(
        topic: "hello.greeting", payload: Array("hello \(i)".utf8), eventID: Array("\(run)-\(i)".utf8))
    print("published hello \(i) as seq \(seq)")
}

// The group starts at the earliest event the journal holds: older greetings of
// earlier runs come first. ACK after the work is done, never before.
var mine = 0
for await delivery in consumer.deliveries {
    let text = String(decoding: delivery.event.payload, as: UTF8.self)
    print("took seq \(delivery.seq) (attempt \(delivery.attempt)): \(text)")
    consumer.ack(delivery)
    if delivery.event.eventID.starts(with: Array(run.utf8)) { mine += 1 }
    if mine == count { break }
}
await consumer.close()
await publisher.close()
