// swift-tools-version: 6.1
//
// A complete small Metro service in its own package, as docs/services.md walks
// through it: rpc handlers, an event handler and storage, on `MetroRuntime`.
// It depends on Metro by path here; `Examples/check-as-dependency.sh` also
// builds it against a tagged snapshot, as `.package(url: "https://…/metro", from: "…")`.
import PackageDescription

let package = Package(
    name: "bookmarks-service",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "metro", path: "../.."),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // The service: its types, tables and handlers (a library, so tests import it).
        .target(
            name: "Bookmarks",
            dependencies: [
                .product(name: "MetroKit", package: "metro"),
                .product(name: "MetroRuntime", package: "metro"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // The process: configuration, signals, the ready line.
        .executableTarget(
            name: "BookmarksService",
            dependencies: [
                "Bookmarks",
                .product(name: "MetroRuntime", package: "metro"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "BookmarksTests",
            dependencies: ["Bookmarks", .product(name: "GRDB", package: "GRDB.swift")]
        ),
    ]
)
