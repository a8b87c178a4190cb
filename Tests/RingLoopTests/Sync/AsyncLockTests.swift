import Foundation
import Testing
@testable import RingLoop

/// An actor serializing a multi-step critical section across suspension
/// points, which actor isolation alone does not (reentrancy).
actor Account {
    let lock = AsyncLock()
    private(set) var balance = 0
    private(set) var overlaps = 0
    private var inside = false

    func deposit(_ amount: Int) async throws {
        try await lock.withLock {
            // Runs on the actor: its state is reachable without `await`.
            if inside { overlaps += 1 }
            inside = true
            let before = balance
            await Task.yield()                 // the actor is reentered here
            balance = before + amount
            inside = false
        }
    }
}

@Suite("AsyncLock")
struct AsyncLockTests {
    @Test func serializesAnActorsCriticalSectionAcrossSuspensions() async throws {
        let account = Account()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<50 { group.addTask { try await account.deposit(1) } }
            try await group.waitForAll()
        }
        #expect(await account.balance == 50)
        #expect(await account.overlaps == 0)
        #expect(account.lock.waiterCount == 0)
    }

    @Test func uncontendedLockUnlockAndTryLock() async throws {
        let lock = AsyncLock()
        #expect(!lock.isLocked)
        try await lock.lock()
        #expect(lock.isLocked)
        #expect(!lock.tryLock())
        try lock.unlock()
        #expect(lock.tryLock())
        try lock.unlock()
        #expect(!lock.isLocked)
    }

    @Test func unlockingAFreeLockThrowsNotLocked() {
        let lock = AsyncLock()
        #expect(throws: RingLoopError.notLocked(operation: "AsyncLock.unlock")) { try lock.unlock() }
    }

    @Test func waitersAcquireInArrivalOrder() async throws {
        let lock = AsyncLock()
        try await lock.lock()
        let order = Box<[Int]>([])
        var tasks: [Task<Void, any Error>] = []
        for i in 0..<5 {
            tasks.append(Task {
                try await lock.withLock { order.with { $0.append(i) } }
            })
            try #require(await eventually { lock.waiterCount == i + 1 }, "waiter \(i) queued")
        }
        try lock.unlock()
        for task in tasks { try await task.value }
        #expect(order.get == [0, 1, 2, 3, 4])
        #expect(!lock.isLocked)
        #expect(lock.waiterCount == 0)
    }

    @Test func unlockHandsTheLockToTheWaiterSoNewcomersCannotBarge() async throws {
        let lock = AsyncLock()
        try await lock.lock()
        let waiter = Task { try await lock.lock() }
        try #require(await eventually { lock.waiterCount == 1 }, "waiter queued")
        try lock.unlock()
        // Handed over, not freed: a newcomer cannot take it in between.
        #expect(lock.isLocked)
        #expect(!lock.tryLock())
        try await waiter.value
        try lock.unlock()
        #expect(!lock.isLocked)
    }

    @Test func cancelledWaiterLeavesTheQueueWithoutTheLock() async throws {
        let lock = AsyncLock()
        try await lock.lock()
        let first = Task { await WaitOutcome { try await lock.lock() } }
        try #require(await eventually { lock.waiterCount == 1 }, "first queued")
        let second = Task { await WaitOutcome { try await lock.withLock {} } }
        try #require(await eventually { lock.waiterCount == 2 }, "second queued")
        first.cancel()
        #expect(await first.value == .cancelled)
        #expect(lock.waiterCount == 1)
        try lock.unlock()
        // The lock went to the second waiter, not to the cancelled first.
        #expect(await second.value == .succeeded)
        #expect(!lock.isLocked)
        #expect(lock.waiterCount == 0)
    }

    @Test func taskCancelledBeforeWaitingThrowsOnlyWhenItWouldWait() async throws {
        let lock = AsyncLock()
        let gate = AsyncEvent()
        let task = Task {
            try await gate.wait()
            withUnsafeCurrentTask { $0?.cancel() }
            try await lock.lock()                          // free: taken even though cancelled
            let second = await WaitOutcome { try await lock.lock() }  // would wait: cancelled
            try lock.unlock()
            return second
        }
        gate.set()
        #expect(try await task.value == .cancelled)
        #expect(!lock.isLocked)
        #expect(lock.waiterCount == 0)
    }

    @Test func lockTimesOutOnTimeAndLeavesNoTimer() async throws {
        let lock = AsyncLock()
        try await lock.lock()
        let start = Deadline.now()
        #expect(await throwsTimeout { try await lock.lock(timeout: .milliseconds(50)) })
        let elapsed = Deadline.now() - start
        #expect(elapsed >= .milliseconds(50))
        #expect(elapsed < .seconds(2))
        #expect(lock.waiterCount == 0)
        try lock.unlock()
        #expect(!lock.isLocked)
        #expect(pendingTimeouts == 0)
    }

    @Test func acquiredWaiterCancelsItsTimeout() async throws {
        let lock = AsyncLock()
        try await lock.lock()
        let waiter = Task { try await lock.lock(timeout: .seconds(30)) }
        try #require(await eventually { lock.waiterCount == 1 }, "waiter queued")
        #expect(pendingTimeouts == 1)
        try lock.unlock()
        try await waiter.value
        #expect(pendingTimeouts == 0)
        try lock.unlock()
    }

    @Test func pastDeadlineTimesOutAtOnceWhenTheLockIsTaken() async throws {
        let lock = AsyncLock()
        try await lock.lock(deadline: .distantPast)       // free: acquired
        #expect(await throwsTimeout { try await lock.lock(deadline: .distantPast) })
        #expect(lock.waiterCount == 0)
        #expect(pendingTimeouts == 0)
        try lock.unlock()
    }

    @Test func withLockReleasesWhenTheBodyThrows() async throws {
        struct Boom: Error {}
        let lock = AsyncLock()
        await #expect(throws: Boom.self) {
            try await lock.withLock { throw Boom() }
        }
        #expect(!lock.isLocked)
    }

    @Test func futureFormAcquiresOnTheLoopInOrderAndTimesOut() async throws {
        try await withLoop { loop in
            let lock = AsyncLock()
            try await lock.lock()
            let onLoop = Box(true)
            let order = Box<[Int]>([])
            var futures: [Future<Void>] = []
            for i in 0..<3 {
                futures.append(lock.lock(on: loop).map {
                    if !loop.inEventLoop { onLoop.with { $0 = false } }
                    order.with { $0.append(i) }
                    try? lock.unlock()
                })
            }
            let late = lock.lock(on: loop, deadline: .now() + .milliseconds(20))
            await #expect(throws: RingLoopError.timedOut(operation: "AsyncLock.lock")) { try await late.get() }
            #expect(lock.waiterCount == 3)
            try lock.unlock()
            for future in futures { try await future.get() }
            #expect(order.get == [0, 1, 2])
            #expect(onLoop.get)
            #expect(!lock.isLocked)
            #expect(pendingTimeouts == 0)
        }
    }

    @Test func waitersOnLoopsAndThePoolShareTheLock() async throws {
        let group = try EventLoopGroup(numberOfLoops: 2)
        let lock = AsyncLock()
        let counter = Box(0)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for i in 0..<8 {
                let work: @Sendable () async throws -> Void = {
                    for _ in 0..<200 {
                        try await lock.withLock {
                            let before = counter.get
                            await Task.yield()
                            counter.with { $0 = before + 1 }
                        }
                    }
                }
                if i % 2 == 0 {
                    tasks.addTask(executorPreference: group.loops[i / 2 % 2], operation: work)
                } else {
                    tasks.addTask(operation: work)
                }
            }
            try await tasks.waitForAll()
        }
        #expect(counter.get == 8 * 200)
        #expect(lock.waiterCount == 0)
        await group.shutdownGracefully()
    }

    @Test func cancellationRacingUnlockResumesEachWaiterOnce() async throws {
        // Cancel and hand-off race; whichever wins, the waiter resumes exactly
        // once and the lock ends free.
        for round in 0..<200 {
            let lock = AsyncLock()
            try await lock.lock()
            let waiter = Task { await WaitOutcome { try await lock.lock() } }
            try #require(await eventually { lock.waiterCount == 1 }, "round \(round) waiter")
            async let cancel: Void = waiter.cancel()
            try lock.unlock()
            await cancel
            let outcome = await waiter.value
            #expect(outcome == .succeeded || outcome == .cancelled)
            if outcome == .succeeded { try lock.unlock() }
            #expect(!lock.isLocked)
            #expect(lock.waiterCount == 0)
        }
    }

    @Test func timeoutRacingUnlockResumesEachWaiterOnce() async throws {
        for _ in 0..<100 {
            let lock = AsyncLock()
            try await lock.lock()
            let waiter = Task { await WaitOutcome { try await lock.lock(timeout: .milliseconds(2)) } }
            try await Task.sleep(for: .microseconds(Int.random(in: 0...3_000)))
            try lock.unlock()
            let outcome = await waiter.value
            #expect(outcome == .succeeded || outcome == .timedOut)
            if outcome == .succeeded { try lock.unlock() }
            #expect(!lock.isLocked)
            #expect(lock.waiterCount == 0)
        }
        #expect(pendingTimeouts == 0)
    }
}
