// swift-tools-version: 6.1
// RingLoop benchmarks: a package of its own, so benchmark dependencies (SwiftNIO,
// swift-argument-parser) never reach users of the library.
import Foundation
import PackageDescription

let swift6: [SwiftSetting] = [.swiftLanguageMode(.v6)]
let cWarnings: [CSetting] = [
    .define("_GNU_SOURCE"),
    .unsafeFlags(["-Wall", "-Wextra", "-O2"]),
]

var dependencies: [Package.Dependency] = [
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
]

var targets: [Target] = [
    // The performance ceiling: io_uring echo server in C (multishot accept, multishot recv
    // with a provided buffer ring, gathered sends).
    .executableTarget(
        name: "bench-c-server",
        cSettings: cWarnings,
        linkerSettings: [.linkedLibrary("uring")]
    ),
    // The load generator runs in its own process, in C so that it is never the bottleneck.
    .executableTarget(
        name: "bench-load",
        cSettings: cWarnings,
        linkerSettings: [.linkedLibrary("pthread"), .linkedLibrary("m")]
    ),
    // Peer: one blocking thread per connection.
    .executableTarget(
        name: "bench-blocking-server",
        swiftSettings: swift6
    ),
    // Peer: SwiftNIO (epoll) echo server.
    .executableTarget(
        name: "bench-nio-server",
        dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ],
        swiftSettings: swift6
    ),
    // The orchestrator: runs every server kind against bench-load and reports.
    .executableTarget(
        name: "ringloop-bench",
        dependencies: [
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        swiftSettings: swift6
    ),
]

// MARK: - RingLoop slot
//
// The RingLoop echo server is not built here until the library compiles. To fill the slot:
//   1. write Sources/bench-ringloop-server/ (an echo server on the RingLoop public API that
//      honours the CLI contract: `--port P` (0 = pick), prints `PORT <n>` as its first stdout
//      line and flushes; `--threads N` optional; exits on SIGTERM);
//   2. build with RINGLOOP_BENCH_WITH_LIBRARY=1 in the environment.
// ringloop-bench then finds `bench-ringloop-server` next to itself and runs it as the
// `ringloop` server kind (an explicit --ringloop-server-cmd still wins).
if Context.environment["RINGLOOP_BENCH_WITH_LIBRARY"] == "1" {
    // A path dependency's identity is its directory name, which differs between checkouts.
    let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent()
    dependencies.append(.package(path: root.path))
    targets.append(
        .executableTarget(
            name: "bench-ringloop-server",
            dependencies: [.product(name: "RingLoop", package: root.lastPathComponent.lowercased())],
            swiftSettings: swift6
        )
    )
}

let package = Package(
    name: "RingLoopBenchmarks",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bench-c-server", targets: ["bench-c-server"]),
        .executable(name: "bench-load", targets: ["bench-load"]),
        .executable(name: "bench-blocking-server", targets: ["bench-blocking-server"]),
        .executable(name: "bench-nio-server", targets: ["bench-nio-server"]),
        .executable(name: "ringloop-bench", targets: ["ringloop-bench"]),
    ],
    dependencies: dependencies,
    targets: targets
)
