import Foundation
import Testing
import VideoProcessing

@Suite struct BlobStoreTests {
    @Test func aBlobIsStoredUnderItsSHA256AndReadBack() throws {
        let folder = try TestFolder()
        let id = try folder.blobs.put(Array("hello".utf8))
        #expect(id == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        #expect(folder.blobs.path(of: id) == "\(folder.path)/video/blobs/2c/\(id)")
        #expect(try folder.blobs.read(id) == Array("hello".utf8))
        // The temp file was renamed away: nothing is left in tmp/.
        #expect(folder.files(under: "video/blobs") == ["2c/\(id)"])
    }

    /// Storing bytes that are there already puts a fresh file in place (the same
    /// bytes): the storage sweep, which removes only old blobs no video names,
    /// then never takes one that a call is about to name (VideoJanitor).
    @Test func writingAnExistingBlobRenewsItsFile() throws {
        let folder = try TestFolder()
        let first = try folder.blobs.put(Array("same".utf8))
        let path = folder.blobs.path(of: first)
        let old = Date(timeIntervalSinceNow: -7200)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: path)
        let second = try folder.blobs.put(Array("same".utf8))
        #expect(first == second)
        let renewed = try #require(try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)
        #expect(renewed.timeIntervalSinceNow > -60)
        #expect(try folder.blobs.read(first) == Array("same".utf8))
        #expect(folder.files(under: "video/blobs") == ["\(first.prefix(2))/\(first)"])
    }

    @Test func copyingAFileGivesTheSameIdAsItsBytes() throws {
        let folder = try TestFolder()
        // Larger than the copy buffer, so the hash runs over several reads.
        let bytes = [UInt8]((0..<700_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let source = "\(folder.path)/source.bin"
        try Data(bytes).write(to: URL(fileURLWithPath: source))
        let copied = try folder.blobs.put(copying: source)
        #expect(copied.size == 700_000)
        #expect(copied.id == BlobHash.hex(bytes))
        #expect(try folder.blobs.read(copied.id) == bytes)
        #expect(try BlobStore.hash(file: source).id == copied.id)
    }

    @Test func copyingWithALimitTakesOnlyThatPrefix() throws {
        let folder = try TestFolder()
        let source = "\(folder.path)/part"
        try Data("durable|torn tail".utf8).write(to: URL(fileURLWithPath: source))
        let copied = try folder.blobs.put(copying: source, limit: 7)
        #expect(copied.size == 7 && copied.id == BlobHash.hex(Array("durable".utf8)))
    }

    @Test func aMissingSourceThrowsAndLeavesNoTempFile() throws {
        let folder = try TestFolder()
        #expect(throws: BlobError.self) { try folder.blobs.put(copying: "\(folder.path)/nope") }
        #expect(folder.files(under: "video/blobs").isEmpty)
    }

    @Test func idsAreSixtyFourLowercaseHexDigits() {
        #expect(BlobStore.isID(String(repeating: "a", count: 64)))
        #expect(!BlobStore.isID(String(repeating: "A", count: 64)))
        #expect(!BlobStore.isID("../../etc/passwd"))
    }
}
