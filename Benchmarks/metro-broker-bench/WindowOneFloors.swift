// The floors under window-1 acknowledged publish (issue 18, target 7), run in
// each round next to the broker's window-1 row: the same durable work (write one
// record, fdatasync, reply) done by the least a server can be, over plain TCP
// (the Redis `appendfsync always` shape) and over a libzmq ROUTER with the
// broker's own client (sync_server.c), in one thread and in the broker's shape
// (the sync handed to a thread of its own). The broker's rate over the libzmq floor
// says what the broker adds; the libzmq floor over the disk's limit says what
// any ZeroMQ server pays on this machine, whatever it does.
import CProxyBaseline
import Foundation

/// The record each floor writes: about a journal record of a 100-byte event (Appendix B).
let windowOneRecord = 160

/// One round of the two floors.
struct FloorRun {
    struct Row {
        var rate: Double
        /// Request to reply, µs.
        var p50: Double
        /// The server process's user + system CPU per event, µs.
        var cpu: Double
    }
    var tcp: Row
    var zmq: Row
    /// The libzmq server in the broker's shape: the sync on a thread of its own.
    var handoff: Row
}

func windowOneFloors(count: Int) throws -> FloorRun {
    let me = URL(fileURLWithPath: CommandLine.arguments[0])
    var latencies = [Int64](repeating: 0, count: count)
    var seconds = 0.0

    let tcp = try Target(me, ["sync-tcp"])
    let tcpBefore = tcp.cpuSeconds
    let tcpCode = metro_bench_tcp_sync(
        Int32(tcp.endpoints["port"].flatMap { Int($0) } ?? 0), UInt64(count), windowOneRecord, &seconds, &latencies)
    let tcpRow = FloorRun.Row(
        rate: tcpCode == 0 ? Double(count) / seconds : .nan, p50: percentile(latencies, 0.5),
        cpu: (tcp.cpuSeconds - tcpBefore) / Double(count) * 1e6)
    tcp.stop()

    func zmqRow(_ arguments: [String]) throws -> FloorRun.Row {
        let zmq = try Target(me, arguments)
        defer { zmq.stop() }
        let before = zmq.cpuSeconds
        let code = metro_bench_acked(
            zmq.endpoints["ingest"]!, 0, UInt64(count), 1, 1, 0, 0, payloadSize, &seconds, &latencies, nil, nil)
        return FloorRun.Row(
            rate: code == 0 ? Double(count) / seconds : .nan, p50: percentile(latencies, 0.5),
            cpu: (zmq.cpuSeconds - before) / Double(count) * 1e6)
    }
    return FloorRun(tcp: tcpRow, zmq: try zmqRow(["sync-zmq"]), handoff: try zmqRow(["sync-zmq", "handoff"]))
}

/// Each row's median over the rounds, its ratio to the same round's disk limit,
/// and the broker over the libzmq floor (round by round, then the median).
func printFloorTable(broker: [FloorRun.Row], floors: [FloorRun], disk: [DiskRun]) {
    guard !broker.isEmpty, broker.count == floors.count, floors.count == disk.count else { return }
    print("")
    print(
        "| target 7: window 1 against its floors, same rounds | events/s (median) | ratio to 1 / mean fdatasync (median) | ratios | request→reply p50 µs | server CPU µs/event |"
    )
    print("|---|---|---|---|---|---|")
    func row(_ label: String, _ rows: [FloorRun.Row]) {
        let ratios = zip(rows, disk).map { $0.rate / $1.limit }
        print(
            String(
                format: "| %@ | %.0f | %.2f | %@ | %.0f | %.0f |", label, median(rows.map(\.rate)), median(ratios),
                ratios.map { String(format: "%.2f", $0) }.joined(separator: " "), median(rows.map(\.p50)),
                median(rows.map(\.cpu))))
    }
    row("plain TCP server: read, write, fdatasync, reply (the Redis `always` shape)", floors.map(\.tcp))
    row("libzmq ROUTER server: PUBLISH, write, fdatasync, ACK (the same client as the broker's row)", floors.map(\.zmq))
    row(
        "libzmq server in the broker's shape: the sync on its own thread, which wakes the polling loop",
        floors.map(\.handoff))
    row("broker, window 1, 1 event per PUBLISH", broker)
    func over(_ label: String, _ ratios: [Double]) {
        print(
            String(
                format: "| %@ (median of rounds) | | %.2f | %@ | | |", label, median(ratios),
                ratios.map { String(format: "%.2f", $0) }.joined(separator: " ")))
    }
    over("broker / libzmq floor", zip(broker, floors).map { $0.rate / $1.zmq.rate })
    over("broker / libzmq server in the broker's shape", zip(broker, floors).map { $0.rate / $1.handoff.rate })
}
