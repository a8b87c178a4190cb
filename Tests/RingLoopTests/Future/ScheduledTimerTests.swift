import Testing
@testable import RingLoop

/// `Scheduled` work makes its future only when asked, before or after the work ran.
@Suite("Scheduled work")
struct ScheduledTimerTests {
    @Test func fireAndForgetWorkMakesNoFutureAndALateFutureGetsTheValue() async throws {
        try await withLoop { loop async throws in
            let deadline = Deadline.now()
            // Equal deadlines fire in scheduling order: `probe` runs after `work`.
            let work = loop.schedule(at: deadline) { 7 }
            let probe = loop.schedule(at: deadline) { work.timer.hasFuture }
            #expect(try await value(of: probe.future) == false)
            #expect(try await value(of: work.future) == 7)
            #expect(work.timer.hasFuture)
            #expect(work.future === work.future)
        }
    }

    @Test func aLateFutureOfThrowingWorkGetsTheError() async throws {
        try await withLoop { loop async throws in
            let deadline = Deadline.now()
            let work = loop.schedule(at: deadline) { () throws -> Int in throw TestError(code: 3) }
            let probe = loop.schedule(at: deadline) { work.timer.hasFuture }
            #expect(try await value(of: probe.future) == false)
            await #expect(throws: TestError(code: 3)) { try await work.future.get() }
        }
    }

    @Test func aLateFutureOfCancelledWorkFailsWithCancellation() async throws {
        try await withLoop { loop async throws in
            let work = try await loop.submit { () -> Scheduled<Int> in
                let work = loop.schedule(after: .seconds(60)) { 1 }
                work.cancel()
                return work
            }.get()
            #expect(!work.timer.hasFuture)
            await #expect(throws: CancellationError.self) { try await work.future.get() }
            #expect(try await value(of: loop.submit { loop.pendingTimerCount }) == 0)
        }
    }

    @Test func aLateFutureOfWorkTheShutdownFailedFailsWithShutDown() async throws {
        let loop = try EventLoop.spawn()
        let work = loop.schedule(after: .seconds(60)) { 1 }
        await loop.shutdownGracefully()
        #expect(!work.timer.hasFuture)
        await #expect(throws: RingLoopError.shutDown) { try await work.future.get() }
        #expect(work.future === work.future)
    }

    @Test func futuresAskedForWhileTheWorkFiresAllGetTheirValues() async throws {
        try await withLoop { loop async throws in
            let count = 2_000
            let deadline = Deadline.now()
            let works = (0..<count).map { i in loop.schedule(at: deadline) { i } }
            // Asked for from this thread while the loop fires them: each one
            // races the firing, on one side or the other.
            var sum = 0
            for work in works { sum += try await value(of: work.future) }
            #expect(sum == count * (count - 1) / 2)
            #expect(works.allSatisfy { $0.timer.hasFuture })
        }
    }

    @Test func aFutureTakenBeforeTheHandleWasDroppedStillGetsTheValue() async throws {
        try await withLoop { loop async throws in
            // The handle is gone when the work fires, so the loop holds the
            // only reference; the future made from it must still complete.
            let future = try await loop.submit { () -> Future<Int> in
                loop.schedule(at: .now()) { 5 }.future
            }.get()
            #expect(try await future.get() == 5)
        }
    }

    /// Records, per timer, whether the loop said nobody else holds it.
    final class UnobservedProbe: TimerNode, @unchecked Sendable {
        // Safe to share: `log` is a locked box; the node is touched on its loop.
        let id: Int
        let log: Box<[Int: Bool]>
        init(_ id: Int, log: Box<[Int: Bool]>) {
            self.id = id
            self.log = log
            super.init(deadline: .now())
        }
        override func fire(_ fired: Bool) {
            let unobserved = firesUnobserved
            log.with { $0[id] = unobserved }
        }
    }

    @Test func theLoopMarksATimerUnobservedOnlyWhenItHoldsTheOnlyReference() async throws {
        try await withLoop { loop async throws in
            let log = Box<[Int: Bool]>([:])
            let held = try await loop.submit { () -> UnobservedProbe in
                let held = UnobservedProbe(1, log: log)
                #expect(loop.insertTimer(held))
                #expect(loop.insertTimer(UnobservedProbe(2, log: log)))
                return held
            }.get()
            #expect(await eventually { log.get.count == 2 })
            #expect(log.get == [1: false, 2: true])
            withExtendedLifetime(held) {}
        }
    }
}
