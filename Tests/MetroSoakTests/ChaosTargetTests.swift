import Testing

@testable import MetroSoak

/// Which process names are service instances, whose databases a disk fault may fill.
struct ChaosTargetTests {
    @Test func instancesNameTheirService() {
        #expect(ChaosMonkey.serviceName("profiles-1") == "profiles")
        #expect(ChaosMonkey.serviceName("recommendations-12") == "recommendations")
        #expect(ChaosMonkey.serviceName("video-2") == "video")
    }

    @Test func theSystemsOwnProcessesAreNoService() {
        for name in ["broker", "registry", "gateway", "up", "broker-1", "video-x", "-1", "profiles"] {
            #expect(ChaosMonkey.serviceName(name) == nil, "\(name)")
        }
    }
}
