import Foundation
import MetroSecurity
import Testing
import ZeroMQ

/// A fresh folder under the system's temporary one, removed by `remove()`.
struct Folder {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "metro-keys-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
    func mode(_ name: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: file(name))[.posixPermissions] as! NSNumber).intValue
    }
}

@Suite struct KeyFilesTests {
    @Test func generateWritesASecretOnlyTheOwnerReadsAndAPublicFile() throws {
        let folder = try Folder()
        defer { folder.remove() }
        let keys = try CurveKeyPair.generate()
        let paths = try KeyFiles.write(keys, name: "gateway", directory: folder.path)
        #expect(paths.secret == folder.file("gateway.key"))
        #expect(try folder.mode("gateway.key") == 0o600)
        #expect(try folder.mode("gateway.pub") == 0o644)
        #expect(try String(contentsOfFile: paths.public, encoding: .utf8) == keys.publicKey + "\n")
        #expect(try KeyFiles.loadSecret(paths.secret) == keys)
        #expect(try KeyFiles.loadPublic(paths.public) == keys.publicKey)
    }

    @Test func neverOverwrites() throws {
        let folder = try Folder()
        defer { folder.remove() }
        try KeyFiles.write(try CurveKeyPair.generate(), name: "a", directory: folder.path)
        #expect { try KeyFiles.write(try CurveKeyPair.generate(), name: "a", directory: folder.path) } throws: {
            ($0 as? SecurityError)?.code == .exists
        }
    }

    @Test func refusesASecretKeyOthersCanRead() throws {
        let folder = try Folder()
        defer { folder.remove() }
        let paths = try KeyFiles.write(try CurveKeyPair.generate(), name: "broker", directory: folder.path)
        for mode in [0o640, 0o604, 0o660, 0o602] {
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: paths.secret)
            let error = try #require(throws: SecurityError.self) { try KeyFiles.loadSecret(paths.secret) }
            #expect(error.code == .unsafePermissions)
            #expect(error.description.contains("chmod 600"), "\(error)")
            #expect(error.description.contains("0" + String(mode, radix: 8)), "\(error)")
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: paths.secret)
        _ = try KeyFiles.loadSecret(paths.secret)
    }

    @Test func refusesMalformedAndMissingFiles() throws {
        let folder = try Folder()
        defer { folder.remove() }
        let path = folder.file("bad.key")
        FileManager.default.createFile(
            atPath: path, contents: Data("not a key\n".utf8), attributes: [.posixPermissions: 0o600])
        #expect { try KeyFiles.loadSecret(path) } throws: { ($0 as? SecurityError)?.code == .malformedKey }
        #expect { try KeyFiles.loadSecret(folder.file("none.key")) } throws: {
            ($0 as? SecurityError)?.code == .unreadable
        }
        #expect { try KeyFiles.write(try CurveKeyPair.generate(), name: "../x", directory: folder.path) } throws: {
            ($0 as? SecurityError)?.code == .unwritable
        }
    }

    @Test func listShowsEachPairAndItsProblems() throws {
        let folder = try Folder()
        defer { folder.remove() }
        let a = try CurveKeyPair.generate()
        try KeyFiles.write(a, name: "a", directory: folder.path)
        let b = try CurveKeyPair.generate()
        try KeyFiles.write(b, name: "b", directory: folder.path)
        try FileManager.default.removeItem(atPath: folder.file("b.key"))
        let c = try KeyFiles.write(try CurveKeyPair.generate(), name: "c", directory: folder.path)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: c.secret)
        let entries = try KeyFiles.list(folder.path)
        #expect(entries.map(\.name) == ["a", "b", "c"])
        #expect(entries[0].publicKey == a.publicKey && entries[0].hasSecret && entries[0].problem == nil)
        #expect(entries[1].publicKey == b.publicKey && !entries[1].hasSecret && entries[1].problem == nil)
        #expect(entries[2].hasSecret && entries[2].problem?.contains("chmod 600") == true)
    }
}
