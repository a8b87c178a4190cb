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
        .executable(name: "ringloop-demo", targets: ["RingLoopDemo"]),
        .executable(name: "ringloop-micro", targets: ["RingLoopMicro"]),
        .executable(name: "echo-server", targets: ["EchoServer"]),
        .executable(name: "echo-client", targets: ["EchoClient"]),
        .executable(name: "file-copy", targets: ["FileCopy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CLiburing",
            pkgConfig: "liburing",
            providers: [.apt(["liburing-dev"])]
        ),
        // Linux calls of the epoll backend that Swift's Glibc does not import.
        .systemLibrary(name: "CEpoll", path: "Sources/CEpoll"),
        .target(
            name: "RingLoop",
            dependencies: [
                "CLiburing",
                "CEpoll",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
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
            dependencies: ["RingLoop"],
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
            dependencies: ["RingLoop"],
            path: "Examples/EchoServer",
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "EchoClient",
            dependencies: ["RingLoop"],
            path: "Examples/EchoClient",
            swiftSettings: strict
        ),
        .testTarget(
            name: "RingLoopTests",
            dependencies: ["RingLoop", "FileCopy"],
            swiftSettings: strict
        ),
    ]
)
