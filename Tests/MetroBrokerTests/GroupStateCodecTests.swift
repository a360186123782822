import Foundation
import Testing

@testable import MetroBroker

@Suite struct GroupStateCodecTests {
    let groups = [
        GroupStateCodec.Group(
            name: "workers",
            config: .init(prefixes: [Array("video.".utf8), []], ackTimeoutNs: 30_000_000_000, maxDeliveries: 5),
            position: 1_234_567, pending: [1_000_000: 1, 1_234_560: 4]),
        GroupStateCodec.Group(
            name: "empty", config: .init(prefixes: [], ackTimeoutNs: 1_000_000, maxDeliveries: 1), position: 0,
            pending: [:]),
    ]

    @Test func roundTripsEveryField() throws {
        let bytes = GroupStateCodec.encode(groups)
        #expect(bytes.starts(with: Array("MTRGRP01".utf8)))
        let back = try #require(GroupStateCodec.decode(bytes))
        #expect(back == groups.sorted { $0.name < $1.name })
        #expect(GroupStateCodec.encode(back) == bytes)  // byte-stable
        #expect(GroupStateCodec.decode(GroupStateCodec.encode([])) == [])
    }

    @Test func rejectsTornOrCorruptFiles() {
        let bytes = GroupStateCodec.encode(groups)
        for cut in [0, 7, 12, bytes.count / 2, bytes.count - 1] {
            #expect(GroupStateCodec.decode(Array(bytes.prefix(cut))) == nil, "cut at \(cut)")
        }
        for i in stride(from: 0, to: bytes.count, by: 7) {
            var flipped = bytes
            flipped[i] ^= 0x40
            #expect(GroupStateCodec.decode(flipped) == nil, "flip at \(i)")
        }
    }

    @Test func storeSavesAtomicallyAndLoads() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("groups-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = GroupStore(directory: dir)
        #expect(try store.load() == [])
        try store.save(groups)
        try store.save(Array(groups.prefix(1)))
        #expect(try store.load() == Array(groups.prefix(1)))
        #expect(!FileManager.default.fileExists(atPath: dir + "/groups.state.tmp"))
    }
}
