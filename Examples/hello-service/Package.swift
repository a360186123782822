// swift-tools-version: 6.1
//
// A service author's first Metro package: it depends on Metro as any other
// package would (here by path; `Examples/check-as-dependency.sh` also builds it
// against a tagged snapshot, as `.package(url: "https://…/metro", from: "…")`).
// `name: "metro"` gives the path dependency the identity that a URL ending in
// `/metro` gets, whatever the checkout's folder is called.
import PackageDescription

let package = Package(
    name: "hello-service",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "metro", path: "../..")
    ],
    targets: [
        .executableTarget(
            name: "HelloService",
            dependencies: [
                .product(name: "MetroKit", package: "metro"),
                .product(name: "MetroProtocol", package: "metro"),
            ]
        )
    ]
)
