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

    /// A service's disk fault fills its whole folder, named absolutely: a data folder
    /// whose own path holds `/video/` must not put the broker's journal under it.
    @Test func aServicesDiskFaultNamesItsFolderUnderTheDataFolder() {
        #expect(ChaosMonkey.serviceFiles("video", dataFolder: "/srv/video/soak/data") == "/srv/video/soak/data/video/")
        #expect(ChaosMonkey.serviceFiles("profiles", dataFolder: nil) == "/profiles/profiles.sqlite")
    }
}
