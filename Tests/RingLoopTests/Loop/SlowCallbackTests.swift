import Foundation
import Logging
import Testing
@testable import RingLoop

/// A swift-log handler that keeps every message, with its metadata.
struct CapturingLogHandler: LogHandler {
    let records: Box<[(Logger.Level, String, Logger.Metadata)]>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        records.with { $0.append((event.level, "\(event.message)", metadata.merging(event.metadata ?? [:]) { $1 })) }
    }
}

extension CapturingLogHandler {
    /// A logger that records into `records`.
    static func logger(_ records: Box<[(Logger.Level, String, Logger.Metadata)]>) -> Logger {
        Logger(label: "test.capture") { _ in CapturingLogHandler(records: records) }
    }
}

@Suite("SlowCallbacks")
struct SlowCallbackTests {
    @Test func slowCallbackIsWarnedAboutAndTheLoopCarriesOn() async throws {
        let records = Box<[(Logger.Level, String, Logger.Metadata)]>([])
        var config = EventLoop.Configuration()
        config.name = "slow-loop"
        config.slowCallbackThreshold = .milliseconds(1)
        config.logger = CapturingLogHandler.logger(records)
        let loop = try EventLoop.spawn(configuration: config)
        let value = try await loop.submit { usleep(5_000); return 7 }.get()
        #expect(value == 7)
        await loop.shutdownGracefully()
        let warnings = records.get.filter { $0.0 == .warning && $0.1 == "slow callback on event loop" }
        #expect(warnings.count >= 1, "the slow callback was reported")
        #expect(warnings.allSatisfy { $0.2["loop"] == "slow-loop" && $0.2["elapsed"] != nil })
    }

    @Test func slowLoopCallbackIsLoggedNamingWhereItWasScheduled() async throws {
        let records = Box<[(Logger.Level, String, Logger.Metadata)]>([])
        var config = EventLoop.Configuration()
        config.slowCallbackThreshold = .milliseconds(20)
        config.logger = Logger(label: "test.slow") { _ in CapturingLogHandler(records: records) }
        let loop = try EventLoop.spawn(configuration: config)
        let pool = ThreadPool(threadCount: 1, name: "tp-slow")

        let fastLine = #line + 1
        loop.execute {}
        let slowLine = #line + 1
        loop.execute { usleep(60_000) }
        try await loop.submit {}.get()

        // A slow callback on a pool result is attributed to the submit site.
        let submitLine = #line + 2
        try await loop.submit {
            try pool.submit { 1 }.map { _ -> Void in usleep(60_000) }
        }.get().get()
        await loop.shutdownGracefully()
        await pool.shutdownGracefully()

        let callbacks = records.get.filter { $0.0 == .warning && $0.1 == "slow callback on event loop" }
            .compactMap { $0.2["callback"].map { "\($0)" } }
        #expect(!callbacks.contains { $0.hasSuffix("SlowCallbackTests.swift:\(fastLine)") }, "\(callbacks)")
        #expect(callbacks.contains { $0.hasSuffix("SlowCallbackTests.swift:\(slowLine)") }, "\(callbacks)")
        #expect(callbacks.contains { $0.hasSuffix("SlowCallbackTests.swift:\(submitLine)") }, "\(callbacks)")
    }

    @Test func slowCompletionHandlerIsLoggedNamingItsType() async throws {
        let records = Box<[(Logger.Level, String, Logger.Metadata)]>([])
        var config = EventLoop.Configuration()
        config.slowCallbackThreshold = .milliseconds(20)
        config.logger = Logger(label: "test.slow") { _ in CapturingLogHandler(records: records) }
        let loop = try EventLoop.spawn(configuration: config)
        let completed = loop.makePromise(of: Void.self)
        try await loop.submit {
            _ = try loop.submitOperation(.nop, handler: ClosureCompletion { _ in
                usleep(60_000)
                completed.succeed()
            }, context: 42)
        }.get()
        try await completed.future.get()
        await loop.shutdownGracefully()
        let callbacks = records.get.compactMap { $0.2["callback"].map { "\($0)" } }
            .filter { $0.hasPrefix("completion handler") }
        #expect(callbacks == ["completion handler ClosureCompletion (context 42)"])
    }
}
