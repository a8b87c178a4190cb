// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

let package = Package(
    name: "RingLoop",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "RingLoop", targets: ["RingLoop"]),
        // Integrations live in products of their own, so that the core
        // library's dependency graph stays swift-system/collections/log.
        .library(name: "RingLoopServiceLifecycle", targets: ["RingLoopServiceLifecycle"]),
        .library(name: "RingLoopMetrics", targets: ["RingLoopMetrics"]),
        .executable(name: "ringloop-demo", targets: ["RingLoopDemo"]),
        .executable(name: "ringloop-micro", targets: ["RingLoopMicro"]),
        .executable(name: "echo-server", targets: ["EchoServer"]),
        .executable(name: "echo-client", targets: ["EchoClient"]),
        .executable(name: "async-echo-server", targets: ["AsyncEchoServer"]),
        .executable(name: "file-copy", targets: ["FileCopy"]),
        .executable(name: "parallel-run", targets: ["ParallelRun"]),
        .executable(name: "ringloop-alloc-counter", targets: ["AllocationCounts"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        // Only for `swift package generate-documentation` (scripts/docs); a
        // command plugin, never linked into anything.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLiburing",
            pkgConfig: "liburing",
            providers: [.apt(["liburing-dev"])]
        ),
        // Linux calls of the epoll backend that Swift's Glibc does not import.
        .systemLibrary(name: "CEpoll", path: "Sources/CEpoll"),
        // A cache prefetch hint (no Swift spelling) for the timer wheel.
        .systemLibrary(name: "CPrefetch", path: "Sources/CPrefetch"),
        // glibc's malloc statistics (`mallinfo2`), for a test of timer firing.
        .systemLibrary(name: "CMallocInfo", path: "Sources/CMallocInfo"),
        .target(
            name: "RingLoop",
            dependencies: [
                "CLiburing",
                "CEpoll",
                "CPrefetch",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // `EventLoopGroup` and `ThreadPool` as swift-service-lifecycle services.
        .target(
            name: "RingLoopServiceLifecycle",
            dependencies: [
                "RingLoop",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // Loop and pool statistics reported through swift-metrics.
        .target(
            name: "RingLoopMetrics",
            dependencies: [
                "RingLoop",
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "RingLoopDemo",
            dependencies: ["RingLoop"],
            path: "Examples/Demo",
            swiftSettings: strict
        ),
        // Copies a file with a pipeline of io_uring reads and writes.
        .executableTarget(
            name: "FileCopy",
            dependencies: ["RingLoop", "ExampleSupport"],
            path: "Examples/FileCopy",
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        // Micro-benchmarks of the runtime's parts against in-process peers
        // (release builds only). The cross-server harness is Benchmarks/.
        .executableTarget(
            name: "RingLoopMicro",
            dependencies: ["RingLoop"],
            swiftSettings: strict
        ),
        // TCP echo server and load-generating client on the public API.
        .executableTarget(
            name: "EchoServer",
            dependencies: ["RingLoop", "ExampleSupport"],
            path: "Examples/EchoServer",
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "EchoClient",
            dependencies: ["RingLoop", "ExampleSupport"],
            path: "Examples/EchoClient",
            swiftSettings: strict
        ),
        // Runs a command per input line, N at a time (like xargs -P), with
        // Subprocess, pipes, signals and AsyncSemaphore.
        .executableTarget(
            name: "ParallelRun",
            dependencies: [
                "RingLoop",
                "ExampleSupport",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Examples/ParallelRun",
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        // The same echo service in the async style the README leads with.
        .executableTarget(
            name: "AsyncEchoServer",
            dependencies: ["RingLoop", "ExampleSupport"],
            path: "Examples/AsyncEchoServer",
            swiftSettings: strict
        ),
        // What the examples share: one command-line parser.
        .target(
            name: "ExampleSupport",
            path: "Examples/Shared",
            swiftSettings: strict
        ),
        // Counts heap allocations per operation against checked-in
        // thresholds (scripts/test runs it in release). The counting malloc
        // lives in its own C target, linked only into this executable.
        .target(
            name: "CAllocCounter",
            path: "Tests/CAllocCounter"
        ),
        .executableTarget(
            name: "AllocationCounts",
            dependencies: ["RingLoop", "CAllocCounter"],
            path: "Tests/AllocationCounts",
            exclude: ["thresholds.txt"],
            swiftSettings: strict
        ),
        // The worker executable the ProcessPool tests start.
        .executableTarget(
            name: "RingLoopTestWorker",
            dependencies: ["RingLoop"],
            path: "Tests/RingLoopTestWorker",
            swiftSettings: strict
        ),
        .testTarget(
            name: "RingLoopTests",
            // ParallelRun, AsyncEchoServer and RingLoopTestWorker: built so that tests can run the binaries.
            dependencies: ["RingLoop", "CMallocInfo", "FileCopy", "ParallelRun", "AsyncEchoServer", "RingLoopTestWorker"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RingLoopServiceLifecycleTests",
            dependencies: [
                "RingLoop",
                "RingLoopServiceLifecycle",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RingLoopMetricsTests",
            dependencies: [
                "RingLoop",
                "RingLoopMetrics",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
    ]
)
