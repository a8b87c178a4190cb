import Foundation
import Testing
@testable import RingLoop

/// `EventLoop.execute(at:_:)` / `execute(after:_:)`: timers with no handle.
@Suite("Fire-and-forget timers")
struct FireAndForgetTimerTests {
    /// Counts its deinits: shows when a timer's closure was released.
    final class Capture: Sendable {
        let released: Box<Int>
        init(_ released: Box<Int>) { self.released = released }
        deinit { released.with { $0 += 1 } }
    }

    @Test func theyFireOnTheLoopInDeadlineOrderWithScheduledTimersAndNeverEarly() async throws {
        try await withLoop { loop async throws in
            let fired = Box<[(id: Int, onLoop: Bool, late: Bool)]>([])
            let done = try await loop.submit { () -> Future<Void> in
                let promise = loop.makePromise(of: Void.self)
                let start = Deadline.now()
                // Even ids fire-and-forget, odd ids `schedule(at:)`; equal
                // deadlines keep scheduling order across the two kinds.
                let delays = [30, 10, 10, 0, 20, 10, 0, 40]
                for (id, ms) in delays.enumerated() {
                    let deadline = start + .milliseconds(ms)
                    let record: @Sendable () -> Void = {
                        let count = fired.with {
                            $0.append((id, loop.inEventLoop, Deadline.now() >= deadline))
                            return $0.count
                        }
                        if count == delays.count { promise.succeed() }
                    }
                    if id % 2 == 0 { loop.execute(at: deadline, record) } else { loop.schedule(at: deadline, record) }
                }
                return promise.future
            }.get()
            try await done.get()
            #expect(fired.get.map(\.id) == [3, 6, 1, 2, 5, 4, 0, 7])
            #expect(fired.get.allSatisfy { $0.onLoop && $0.late })
            #expect(try await value(of: loop.submit { loop.pendingTimerCount }) == 0)
        }
    }

    @Test func fromAnotherThreadTheyHopToTheLoop() async throws {
        try await withLoop { loop async throws in
            let fired = Box<[Bool]>([])
            let start = Deadline.now()
            for _ in 0..<10 {
                loop.execute(after: .milliseconds(2)) {
                    fired.with { $0.append(loop.inEventLoop && Deadline.now() >= start + .milliseconds(2)) }
                }
            }
            #expect(await eventually { fired.get.count == 10 })
            #expect(fired.get.allSatisfy { $0 })
        }
    }

    @Test func atShutdownPendingOnesAreReleasedWithoutRunning() async throws {
        let loop = try EventLoop.spawn()
        let released = Box(0)
        let ran = Box(0)
        let freed = Box(0)
        try await loop.submit {
            for _ in 0..<100 {
                let capture = Capture(released)
                loop.execute(after: .seconds(60)) { withExtendedLifetime(capture) { ran.with { $0 += 1 } } }
            }
            // A capture whose deinit schedules timers while the loop closes.
            let rescheduler = ReschedulesWhenFreed(loop: loop, freed: freed)
            loop.execute(after: .seconds(60)) { withExtendedLifetime(rescheduler) {} }
        }.get()
        #expect(try await value(of: loop.submit { loop.pendingTimerCount }) == 101)
        await loop.shutdownGracefully()
        #expect(released.get == 100)
        #expect(freed.get == 1)
        #expect(ran.get == 0)
    }

    @Test func afterShutdownTheClosureIsReleasedWithoutRunning() async throws {
        let loop = try EventLoop.spawn()
        await loop.shutdownGracefully()
        let released = Box(0)
        let ran = Box(0)
        do {
            let capture = Capture(released)
            loop.execute(after: .milliseconds(1)) { withExtendedLifetime(capture) { ran.with { $0 += 1 } } }
        }
        #expect(await eventually { released.get == 1 })
        #expect(ran.get == 0)
    }

    @Test func aSlowOneIsReportedLikeAnyTimer() async throws {
        var configuration = EventLoop.Configuration()
        configuration.slowCallbackThreshold = .milliseconds(5)
        let loop = try EventLoop.spawn(configuration: configuration)
        let done = Box(false)
        loop.execute(after: .milliseconds(1)) {
            usleep(20_000)
            done.with { $0 = true }
        }
        #expect(await eventually { done.get })
        #expect(try await value(of: loop.statistics()).slowCallbacks == 1)
        await loop.shutdownGracefully()
    }
}
