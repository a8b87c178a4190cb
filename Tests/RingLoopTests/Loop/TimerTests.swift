import Foundation
import Testing
@testable import RingLoop

@Suite("Timers")
struct TimerTests {
    @Test func timersFireInDeadlineOrderAndNeverEarly() async throws {
        try await withLoop { loop async throws in
            let fired = Box<[(Int, Deadline, Deadline)]>([])
            let start = Deadline.now()
            // Scheduled out of order; equal deadlines keep scheduling order.
            let delays = [50, 10, 30, 10, 0, 40, 20]
            var futures: [Future<Void>] = []
            for (i, ms) in delays.enumerated() {
                let deadline = start + .milliseconds(ms)
                futures.append(loop.schedule(at: deadline) {
                    fired.with { $0.append((i, deadline, Deadline.now())) }
                }.future)
            }
            _ = try await Future.whenAllSucceed(futures, on: loop).get()
            let order = fired.get.map(\.0)
            #expect(order == [4, 1, 3, 6, 2, 5, 0])
            for (_, deadline, at) in fired.get { #expect(at >= deadline) }
        }
    }

    @Test func timersDueWithinTheSlackOfEachOtherFireInOneWakeupAndNeverEarly() async throws {
        var configuration = EventLoop.Configuration()
        configuration.timerSlack = .milliseconds(30)
        let loop = try EventLoop.spawn(configuration: configuration)
        let fired = Box<[(id: Int, tick: Int, late: Bool)]>([])
        // Scheduled from the loop, and nothing else reaches it until both
        // fired (the test polls the box, not the loop): only the first
        // timer's deadline plus the slack can wake it.
        loop.execute {
            let start = Deadline.now()
            for (id, delay) in [(0, 5), (1, 15)] {
                let deadline = start + .milliseconds(delay)
                loop.schedule(at: deadline) {
                    fired.with { $0.append((id, loop.counters.ticks, Deadline.now() >= deadline)) }
                }
            }
        }
        #expect(await eventually { fired.get.count == 2 })
        let record = fired.get
        #expect(record.map(\.id) == [0, 1])
        let allLate = record.allSatisfy { $0.late }
        #expect(allLate, "never before the deadline")
        #expect(Set(record.map(\.tick)).count == 1, "one wakeup for both")
        await loop.shutdownGracefully()
    }

    @Test(arguments: [Duration.zero, .microseconds(1)])
    func withNoSlackTimersStillNeverFireEarly(slack: Duration) async throws {
        var configuration = EventLoop.Configuration()
        configuration.timerSlack = slack
        let loop = try EventLoop.spawn(configuration: configuration)
        let start = Deadline.now()
        let futures = (0..<200).map { i in
            let deadline = start + .microseconds(37 * i)
            return loop.schedule(at: deadline) { Deadline.now() >= deadline }.future
        }
        for future in futures { #expect(try await future.get()) }
        await loop.shutdownGracefully()
    }

    @Test func aNegativeTimerSlackFailsTheLoopsCreation() {
        var configuration = EventLoop.Configuration()
        configuration.timerSlack = .microseconds(-1)
        #expect {
            try EventLoop.spawn(configuration: configuration)
        } throws: { error in
            guard case let RingLoopError.invalidConfiguration(setting, _) = error else { return false }
            return setting == "timerSlack"
        }
    }

    @Test func scheduleAfterWaitsAtLeastTheDelay() async throws {
        try await withLoop { loop async throws in
            let start = Deadline.now()
            let end = try await loop.schedule(after: .milliseconds(30)) { Deadline.now() }.future.get()
            #expect(end - start >= .milliseconds(30))
        }
    }

    @Test func cancelledTimerNeverRunsAndFailsWithCancellation() async throws {
        try await withLoop { loop async throws in
            let ran = Box(false)
            let scheduled = loop.schedule(after: .milliseconds(20)) { ran.with { $0 = true } }
            scheduled.cancel()
            await #expect(throws: CancellationError.self) { try await scheduled.future.get() }
            // No timer is left that could still run the body.
            #expect(try await value(of: loop.submit { loop.pendingTimerCount }) == 0)
            #expect(!ran.get)
        }
    }

    @Test func cancelFromTheLoopAndAfterFiringIsHarmless() async throws {
        try await withLoop { loop async throws in
            let s = loop.schedule(after: .zero) { 1 }
            #expect(try await value(of: s.future) == 1)
            s.cancel()   // after completion: no effect
            #expect(try await value(of: s.future) == 1)
            let cancelledOnLoop = try await loop.submit {
                let t = loop.schedule(after: .seconds(60)) { 2 }
                t.cancel()
                return loop.pendingTimerCount
            }.get()
            #expect(cancelledOnLoop == 0)
        }
    }

    @Test func cancelledTimerWhoseCapturesScheduleTimersWhenFreedIsSafe() async throws {
        try await withLoop { loop async throws in
            let freed = Box(0)
            let pending = try await loop.submit { () -> Int in
                let scheduled = Self.scheduleHolding(ReschedulesWhenFreed(loop: loop, freed: freed), on: loop)
                // Dropping the body frees the capture, whose deinit schedules
                // and cancels timers on this loop while the cancel is under way.
                scheduled.cancel()
                return loop.pendingTimerCount
            }.get()
            #expect(freed.get == 1)
            #expect(pending == 1)
        }
    }

    /// A 60 s timer whose body is the only owner of `capture`.
    static func scheduleHolding(_ capture: ReschedulesWhenFreed, on loop: EventLoop) -> Scheduled<Void> {
        loop.schedule(after: .seconds(60)) { withExtendedLifetime(capture) {} }
    }

    @Test func throwingTimerBodyFailsItsFuture() async throws {
        struct Boom: Error {}
        try await withLoop { loop async throws in
            await #expect(throws: Boom.self) {
                try await loop.schedule(after: .milliseconds(1)) { throw Boom() }.future.get()
            }
        }
    }

    @Test func oneMillionTimersAreScheduledAndAllFireInOrder() async throws {
        try await withLoop { loop async throws in
            let count = 1_000_000
            let result = try await loop.submit { () -> Future<Bool> in
                let promise = loop.makePromise(of: Bool.self)
                let state = OrderCheck(remaining: count)
                let base = Deadline.now() + .milliseconds(20)
                var rng = SystemRandomNumberGenerator()
                for _ in 0..<count {
                    let deadline = base + .microseconds(Int.random(in: 0..<200_000, using: &rng))
                    _ = loop.scheduleTimer(at: deadline) { fired in
                        if state.fire(deadline: deadline, fired: fired) { promise.succeed(state.ok) }
                    }
                }
                return promise.future
            }.get()
            #expect(try await value(of: result))
            #expect(try await value(of: loop.submit { loop.pendingTimerCount }) == 0)
        }
    }

    @Test func repeatedTaskRunsUntilCancelled() async throws {
        try await withLoop { loop async throws in
            let runs = Box(0)
            let task = loop.scheduleRepeatedTask(initialDelay: .milliseconds(1), delay: .milliseconds(2)) { task in
                if runs.with({ $0 += 1; return $0 }) == 5 { task.cancel() }
            }
            try await task.future.get()
            // No next run is scheduled.
            #expect(try await value(of: loop.submit { loop.pendingTimerCount }) == 0)
            #expect(runs.get == 5)
        }
    }

    @Test func repeatedTaskStopsWhenItsBodyThrows() async throws {
        struct Stop: Error {}
        try await withLoop { loop async throws in
            let runs = Box(0)
            let task = loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) { _ in
                if runs.with({ $0 += 1; return $0 }) == 3 { throw Stop() }
            }
            await #expect(throws: Stop.self) { try await task.future.get() }
            #expect(runs.get == 3)
        }
    }
}

/// Checks, on the loop thread, that timers fire in deadline order and not early.
// Safe to share: used only on one loop's thread.
final class OrderCheck: @unchecked Sendable {
    var remaining: Int
    var last = Deadline.distantPast
    var ok = true
    init(remaining: Int) { self.remaining = remaining }
    func fire(deadline: Deadline, fired: Bool) -> Bool {
        if !fired || deadline < last || Deadline.now() < deadline { ok = false }
        last = deadline
        remaining -= 1
        return remaining == 0
    }
}

/// On deinit (on the loop thread), schedules and cancels one timer and leaves
/// another pending, then counts itself freed.
final class ReschedulesWhenFreed: Sendable {
    let loop: EventLoop
    let freed: Box<Int>
    init(loop: EventLoop, freed: Box<Int>) {
        self.loop = loop
        self.freed = freed
    }
    deinit {
        loop.schedule(after: .seconds(60)) {}.cancel()
        loop.schedule(after: .seconds(60)) {}
        freed.with { $0 += 1 }
    }
}
