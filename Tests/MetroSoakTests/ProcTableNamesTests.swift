import Testing

@testable import MetroSoak

/// How the soak names the children of `metro up` from their command lines
/// (the sampler's processes and the chaos's targets).
@Suite struct ProcTableNamesTests {
    @Test(arguments: ["/usr/local/bin/metro", "/tmp/exp/metro-w20", "./bin/metro-1.2", "/opt/x/run"])
    func childrenAreNamedByTheirSubcommandWhateverTheBinaryIsCalled(binary: String) {
        #expect(ProcTable.childName([binary, "broker", "--data", "d"]) == "broker")
        #expect(ProcTable.childName([binary, "registry"]) == "registry")
        #expect(ProcTable.childName([binary, "gateway", "--port", "0"]) == "gateway")
        #expect(ProcTable.childName([binary, "worker", "video", "--instance", "video-2"]) == "video-2")
        #expect(ProcTable.childName([binary, "worker", "video"]) == nil)  // no instance name
        #expect(ProcTable.childName([binary, "publish", "x"]) == nil)
        #expect(ProcTable.childName([binary]) == nil)
    }

    @Test func attachFindsMetroBinariesByName() {
        #expect(ProcTable.isMetro(["/usr/bin/metro", "up"], "up"))
        #expect(ProcTable.isMetro(["/tmp/exp/metro-w20", "registry"], "registry"))
        #expect(!ProcTable.isMetro(["/usr/bin/python3", "registry"], "registry"))
        #expect(!ProcTable.isMetro(["/usr/bin/metro", "broker"], "registry"))
    }
}
