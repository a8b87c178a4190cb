import Foundation
import Testing
@testable import RingLoop

@Suite("EventLoop statistics")
struct EventLoopStatisticsTests {
    @Test func countersGrowWithWorkAndGaugesShowWhatIsPending() async throws {
        try await withLoop { loop async throws in
            let before = try await value(of: loop.statistics())
            // One timer pending, and some I/O completed: a pipe write and read.
            let timer = loop.schedule(after: .seconds(60)) {}
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
            let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            guard let server = try await listener.accept() else { Issue.record("no connection"); return }
            try await client.write([1, 2, 3])
            _ = try await server.read()
            let after = try await value(of: loop.statistics())
            #expect(after.ticks > before.ticks)
            #expect(after.completions > before.completions)
            #expect(after.ringEnters > before.ringEnters)
            #expect(after.submissions > before.submissions)
            #expect(after.pendingTimers == before.pendingTimers + 1)
            #expect(after.operationsInFlight > 0, "the wakeup read is not counted, the listener/reads are")
            #expect(after.submissionsPerEnter > 0)
            #expect(after.slowCallbacks == 0, "no threshold set, nothing counted")
            timer.cancel()
            await client.close()
            await server.close()
            await listener.close()
        }
    }

    @Test func slowCallbacksAreCountedWhenAThresholdIsSet() async throws {
        var configuration = EventLoop.Configuration()
        configuration.slowCallbackThreshold = .milliseconds(1)
        configuration.logger.logLevel = .critical
        let loop = try EventLoop.spawn(configuration: configuration)
        try await loop.submit { _ = usleep(5_000) }.get()
        let stats = try await value(of: loop.statistics())
        #expect(stats.slowCallbacks >= 1)
        await loop.shutdownGracefully()
    }

    @Test func statisticsOfAShutDownLoopFail() async throws {
        let loop = try EventLoop.spawn()
        await loop.shutdownGracefully()
        await #expect(throws: RingLoopError.shutDown) { try await loop.statistics().get() }
    }
}
