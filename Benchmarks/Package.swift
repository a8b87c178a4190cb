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

// RingLoop itself, by path (the repository root, one level up). A path dependency's identity
// is its directory name, which differs between checkouts: derive it rather than spell it.
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent()
let ringLoop: Target.Dependency = .product(name: "RingLoop", package: root.lastPathComponent.lowercased())

let dependencies: [Package.Dependency] = [
    .package(path: root.path),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    // Peer of RingLoop's Subprocess in the process section.
    .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
]

let targets: [Target] = [
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
    // File-copy peer: a blocking read/write loop.
    .executableTarget(
        name: "bench-copy",
        cSettings: cWarnings
    ),
    // Hand-off cost between two threads (futex, condvar, pipe) and two processes (pipe).
    .executableTarget(
        name: "bench-switch",
        cSettings: cWarnings,
        linkerSettings: [.linkedLibrary("pthread")]
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
    // RingLoop's echo server on the public callback API (one loop per --threads).
    .executableTarget(
        name: "bench-ringloop-server",
        dependencies: [ringLoop],
        swiftSettings: swift6
    ),
    // The orchestrator: runs every server kind against bench-load and reports; runs the
    // file-copy peers as processes, and the thread pool and sync sections in process.
    .executableTarget(
        name: "ringloop-bench",
        dependencies: [
            ringLoop,
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Subprocess", package: "swift-subprocess"),
        ],
        swiftSettings: swift6
    ),
]

let package = Package(
    name: "RingLoopBenchmarks",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bench-c-server", targets: ["bench-c-server"]),
        .executable(name: "bench-load", targets: ["bench-load"]),
        .executable(name: "bench-copy", targets: ["bench-copy"]),
        .executable(name: "bench-switch", targets: ["bench-switch"]),
        .executable(name: "bench-blocking-server", targets: ["bench-blocking-server"]),
        .executable(name: "bench-nio-server", targets: ["bench-nio-server"]),
        .executable(name: "bench-ringloop-server", targets: ["bench-ringloop-server"]),
        .executable(name: "ringloop-bench", targets: ["ringloop-bench"]),
    ],
    dependencies: dependencies,
    targets: targets
)
