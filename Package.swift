// swift-tools-version: 6.1
//
// Metro: an event backbone for microservices on ZeroMQ. The layout follows
// ../docs and design.md: dependencies point one way,
// CZeroMQ <- ZeroMQ <- {MetroBroker, MetroRegistry, MetroKit} <- metro.
import PackageDescription

let package = Package(
    name: "Metro",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "metro", targets: ["metro"]),
        .library(name: "ZeroMQ", targets: ["ZeroMQ"]),
        .library(name: "MetroKit", targets: ["MetroKit"]),
        // The types MetroKit's API speaks in (events, group configs, wire errors).
        .library(name: "MetroProtocol", targets: ["MetroProtocol"]),
        // The service runtime (store, inbox, outbox relay, event handlers, lifecycle).
        // A library of its own so that MetroKit's clients stay free of GRDB.
        .library(name: "MetroRuntime", targets: ["MetroRuntime"]),
        // The disk-failure library that `metro soak --chaos` and the broker's disk tests
        // preload (LD_PRELOAD) into `metro up` / a broker: libMetroFaultInject.so, built
        // next to the `metro` binary by a plain `swift build`. Not something to link.
        .library(name: "MetroFaultInject", type: .dynamic, targets: ["MetroFaultInject"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // Hummingbird's header types (`HTTPField.Name` for X-Request-Id and friends).
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // The gateway's bearer tokens (HS256 JWTs) and its authenticator middleware (issue 19 §5).
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        // SHA-256 of the gateway's API keys (already a dependency of jwt-kit).
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        // The gateway's optional TLS (HummingbirdTLS builds on it; its certificate types by name).
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // The only door to the C library. Nothing but `ZeroMQ` imports it.
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        // No unsafe flags in any target of a library product (ZeroMQ, MetroKit and
        // what they depend on): SwiftPM refuses such a package as a versioned
        // dependency. MultipartBuffer marks its hot properties
        // `@exclusivity(unchecked)` instead.
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        // Frames and codecs; no I/O, no ZeroMQ. CCRC32C is the CPU's CRC-32C instruction.
        .target(name: "CCRC32C"),
        // faultinject.c: fsync/pwrite/open that fail on demand, switched by flag files.
        .target(name: "MetroFaultInject", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "MetroProtocol", dependencies: ["CCRC32C"]),
        // CURVE for Metro's servers and tools (issue 19): key files, the allow-list
        // of client identities and the ZAP authenticator (protocol.md §7).
        .target(
            name: "MetroSecurity",
            dependencies: [
                "ZeroMQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "MetroBroker",
            dependencies: [
                "ZeroMQ", "MetroProtocol", "MetroSecurity",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // The loop touches the engine's stored properties for every event; the
            // run-time exclusivity checks on them were ~5% of its own time. Debug
            // builds (the test suite) keep the checks, so a violation still shows.
            // Allowed here: MetroBroker is in no library product, only in the
            // `metro` executable (Examples/check-as-dependency.sh proves it).
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        .target(
            name: "MetroRegistry",
            dependencies: [
                "ZeroMQ", "MetroProtocol", "MetroSecurity",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "MetroKit",
            dependencies: [
                "ZeroMQ", "MetroProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // A service's runtime: its SQLite store (GRDB), the inbox and outbox, event
        // handlers over `Consumer`, rpc and registration, as one lifecycle `Service`.
        .target(
            name: "MetroRuntime",
            dependencies: [
                "MetroKit", "MetroProtocol", "ZeroMQ",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The profiles service's domain and storage (issue 14 §3): users, watch
        // history, the rpc request/response types and the events it publishes.
        // Storage is functions over GRDB's `Database`, so they run inside whatever
        // transaction the service runtime opens; `ProfilesService` puts them on the
        // runtime (`metro worker profiles`). No ZeroMQ here.
        .target(
            name: "Profiles",
            dependencies: [
                "MetroProtocol", "MetroKit", "MetroRuntime", .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // The video-processing service (issue 15): a content-addressed blob store,
        // uploads (whole or in chunks), ffprobe/ffmpeg (or a synthetic CPU step) on
        // `video.uploaded` in group `video-processing`. `metro worker video` runs it.
        .target(
            name: "VideoProcessing",
            dependencies: [
                "MetroProtocol", "MetroKit", "MetroRuntime", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The recommendations service (issue 15): an item-to-item model over views,
        // tags and popularity, kept in SQLite per event; `metro worker recommendations`.
        .target(
            name: "Recommendations",
            dependencies: [
                "MetroProtocol", "MetroKit", "MetroRuntime", .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // The HTTP gateway (issue 17): Hummingbird 2 routes mapped to rpc calls through
        // the registry and to acknowledged publishes, with an adaptive concurrency
        // limit per upstream service (`metro gateway`). No ZeroMQ here.
        .target(
            name: "MetroGateway",
            dependencies: [
                "MetroKit", "MetroProtocol", "Profiles",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // `metro soak`: the load driver, the chaos, the Jepsen-style checker and the
        // report (JSON, Markdown, self-contained HTML). Talks to the system through
        // MetroKit and the services' APIs only, as any client would.
        .target(
            name: "MetroSoak",
            dependencies: [
                "MetroKit", "MetroProtocol", "MetroRuntime", "Profiles", "VideoProcessing", "Recommendations",
                // The checker reads the journal back with a raw replay on a thread of its own.
                "ZeroMQ",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "metro",
            dependencies: [
                "ZeroMQ", "MetroProtocol", "MetroBroker", "MetroRegistry", "MetroKit", "MetroRuntime", "MetroSecurity",
                "Profiles",
                "VideoProcessing",
                "Recommendations",
                "MetroGateway",
                "MetroSoak",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "GRDB", package: "GRDB.swift"),
                // `metro publish`'s ACK latency percentiles.
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),

        // Benchmarks live outside the test suite: `make bench`.
        .target(
            name: "CBenchmarks",
            path: "Benchmarks/CBenchmarks",
            linkerSettings: [.linkedLibrary("zmq"), .linkedLibrary("pthread")]
        ),
        .executableTarget(
            name: "metro-bench",
            dependencies: [
                "ZeroMQ", "CBenchmarks",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Benchmarks/metro-bench"
        ),
        // The broker's benchmark: metro broker vs libzmq's zmq_proxy, with C load loops.
        .target(
            name: "CProxyBaseline",
            path: "Benchmarks/CProxyBaseline",
            linkerSettings: [.linkedLibrary("zmq"), .linkedLibrary("pthread")]
        ),
        .executableTarget(
            name: "metro-broker-bench",
            dependencies: ["CProxyBaseline", "ZeroMQ", "MetroProtocol"],
            path: "Benchmarks/metro-broker-bench"
        ),

        // The registry's LOOKUP benchmark (issue 5):
        // `swift build -c release --scratch-path .build-release --product metro-registry-bench`.
        .executableTarget(
            name: "metro-registry-bench",
            dependencies: [
                "ZeroMQ", "MetroProtocol", "MetroRegistry",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/registry-bench"
        ),

        // MetroKit's acknowledged-publish rate against a running broker (issue 13: the
        // I/O-thread rework must not cost it). `swift build -c release --scratch-path
        // .build-release --product metro-publish-bench`.
        .executableTarget(
            name: "metro-publish-bench", dependencies: ["MetroKit", "ZeroMQ"], path: "Benchmarks/publish-bench"),

        // rpc round trips through RpcClient/RpcServer vs a bare DEALER→ROUTER echo (issue 14 §5):
        // `swift build -c release --scratch-path .build-bench --product metro-rpc-bench`.
        // `metro-rpc-bench services` also runs `metro worker profiles|echo` (build `--product metro` too).
        .executableTarget(
            name: "metro-rpc-bench",
            dependencies: [
                "MetroKit", "MetroProtocol", "ZeroMQ", "Profiles", "BenchSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Benchmarks/rpc-bench"
        ),

        // What the benchmark executables share: ChildProcess (a real `metro` with its ready line).
        .target(name: "BenchSupport", path: "Benchmarks/BenchSupport"),

        // Uploads processed per second (synthetic step, 1 and 2 workers) and real
        // ffmpeg time per clip, each against its in-process / direct baseline (issue 15).
        // `swift build -c release --scratch-path .build-release --product metro-video-bench`
        // (needs `--product metro` too).
        .executableTarget(
            name: "metro-video-bench",
            dependencies: [
                "MetroKit", "MetroProtocol", "VideoProcessing", "BenchSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Benchmarks/video-bench"
        ),

        // The recommendations model offline (issue 15): HitRate@10 and NDCG@10 against a
        // popularity baseline on a MovieLens-format file, and `request` latency under load.
        // `swift build -c release --scratch-path .build-release --product metro-reco-eval`.
        .executableTarget(
            name: "metro-reco-eval",
            dependencies: [
                "Recommendations", "MetroKit", "MetroProtocol", "BenchSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Benchmarks/reco-eval",
            exclude: ["data"]
        ),

        // The gateway benchmark's baselines: the same JSON from a bare Hummingbird handler,
        // and a bare handler making the same rpc (Benchmarks/gateway-bench/run.sh runs wrk
        // against them and the gateway).
        .executableTarget(
            name: "metro-gateway-bench-direct",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"), "MetroKit", "MetroProtocol",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Benchmarks/gateway-bench",
            exclude: ["run.sh", "auth.sh", "shed-log.sh", "media.sh", "common.sh"]
        ),

        // Shared by the test targets: docs/protocol.md's test vectors.
        .target(name: "MetroTestSupport", path: "Tests/MetroTestSupport"),
        // The async harness of the system tests (real `metro` processes, ready lines,
        // waits, freeze, fault injection), a library so that `metro soak` links it too.
        .target(
            name: "MetroTestKit",
            dependencies: ["ZeroMQ", "MetroProtocol", "MetroKit", "MetroRuntime", "MetroTestSupport"],
            path: "Tests/MetroTestKit"
        ),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(
            name: "MetroSecurityTests",
            dependencies: [
                "MetroSecurity", "ZeroMQ", "MetroTestSupport", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "MetroTestKitTests", dependencies: ["MetroTestKit"]),
        .testTarget(
            name: "MetroRegistryTests",
            dependencies: ["MetroRegistry", "MetroProtocol", "ZeroMQ", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "MetroProtocolTests", dependencies: ["MetroProtocol", "MetroTestSupport"]),
        // Pure logic of `metro soak`: the checker's rules, the report's numbers and rendering.
        .testTarget(name: "MetroSoakTests", dependencies: ["MetroSoak"]),
        .testTarget(
            name: "MetroGatewayTests",
            dependencies: ["MetroGateway", "MetroTestKit", .product(name: "Yams", package: "Yams")]
        ),
        .testTarget(name: "ProfilesTests", dependencies: ["Profiles", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(
            name: "VideoProcessingTests",
            dependencies: ["VideoProcessing", "MetroRuntime", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "RecommendationsTests",
            dependencies: ["Recommendations", "MetroTestKit", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(name: "MetroKitTests", dependencies: ["MetroKit", "MetroProtocol", "ZeroMQ", "MetroTestKit"]),
        .testTarget(
            name: "MetroBrokerTests",
            dependencies: ["MetroBroker", "MetroProtocol", .product(name: "Prometheus", package: "swift-prometheus")]
        ),
        .testTarget(
            name: "MetroRuntimeTests",
            dependencies: ["MetroRuntime", "MetroKit", "MetroProtocol", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "SystemTests",
            dependencies: [
                "ZeroMQ", "MetroProtocol", "MetroKit", "MetroBroker", "MetroSecurity", "MetroTestSupport",
                "MetroTestKit",
                // Tokens the CLI will not mint (expired, wrongly signed) for the gateway's auth tests.
                "MetroGateway",
                "Profiles",
                "VideoProcessing", "Recommendations", "MetroSoak",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ]
)

// The upcoming features Hummingbird builds with (issue 13 §5): `any` spelled out,
// imports internal unless declared `public import`, and members visible only
// through the modules a file imports.
for target in package.targets where target.type != .system {
    target.swiftSettings =
        (target.swiftSettings ?? []) + [
            .enableUpcomingFeature("ExistentialAny"),
            .enableUpcomingFeature("InternalImportsByDefault"),
            .enableUpcomingFeature("MemberImportVisibility"),
        ]
}
