import Testing
import VideoProcessing

@Suite struct BlobHashTests {
    @Test func standardVectors() {
        #expect(BlobHash.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(BlobHash.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            BlobHash.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            BlobHash.hex([UInt8](repeating: 0x61, count: 1000))
                == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func incrementalUpdatesInOddPiecesGiveTheOneShotDigest() {
        let message = [UInt8]((0..<5).flatMap { _ in (0...255).map { UInt8($0) } })
        var hash = BlobHash()
        var rest = message[...]
        for size in [1, 63, 64, 65, 7, 300] {
            hash.update(rest.prefix(size))
            rest = rest.dropFirst(size)
        }
        hash.update(rest)
        #expect(hash.finalizeHex() == "d414b085826eb06778483ba35564dc849e643359f69ed9747878ba6e54985bed")
        #expect(BlobHash.hex(message) == "d414b085826eb06778483ba35564dc849e643359f69ed9747878ba6e54985bed")
    }
}
