import Testing
@testable import RingLoop

@Suite("Spin before sleep")
struct SpinBeforeSleepTests {
    @Test func spinningLoopsHandWorkBackAndForthAndShutDownCleanly() async throws {
        await warmUpRuntime()
        let fdsBefore = openFDCount()
        var configuration = EventLoop.Configuration()
        configuration.spinBeforeSleep = .microseconds(200)
        let a = try EventLoop.spawn(configuration: configuration)
        let b = try EventLoop.spawn(configuration: configuration)
        let trips = 2_000
        let count = try await a.submit { () -> Future<Int> in
            let done = a.makePromise(of: Int.self)
            let counter = Box(0)
            // Safe: set once here, then called on a or b in turn.
            nonisolated(unsafe) var step: (@Sendable () -> Void)?
            step = {
                b.execute {
                    a.execute {
                        let n = counter.with { $0 += 1; return $0 }
                        if n == trips { done.succeed(n); step = nil } else { step?() }
                    }
                }
            }
            step?()
            return done.future
        }.get().get()
        #expect(count == trips)
        // A timer still fires on a spinning loop (the spin never outlasts it).
        let fired = try await a.schedule(after: .milliseconds(1)) { true }.future.get()
        #expect(fired)
        await a.shutdownGracefully()
        await b.shutdownGracefully()
        #expect(a.isShutDown && b.isShutDown)
        #expect(openFDCount() == fdsBefore)
    }
}
