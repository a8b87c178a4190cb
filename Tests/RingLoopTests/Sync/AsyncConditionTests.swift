import Foundation
import Testing
@testable import RingLoop

@Suite("AsyncCondition")
struct AsyncConditionTests {
    @Test func waitReleasesTheLockAndHoldsItAgainOnReturn() async throws {
        let condition = AsyncCondition()
        let ready = Box(false)
        let heldAfterWait = Box(false)
        let waiter = Task {
            try await condition.lock.withLock {
                try await condition.wait(until: { ready.get })
                heldAfterWait.with { $0 = condition.lock.isLocked }
            }
        }
        try #require(await eventually { condition.waiterCount == 1 }, "waiting")
        // The waiter released the lock, so this acquires it.
        try await condition.lock.withLock {
            ready.with { $0 = true }
            condition.notify()
        }
        try await waiter.value
        #expect(heldAfterWait.get)
        #expect(!condition.lock.isLocked)
    }

    @Test func waitWithoutTheLockThrowsNotLocked() async throws {
        let condition = AsyncCondition()
        await #expect(throws: RingLoopError.notLocked(operation: "AsyncCondition.wait")) {
            try await condition.wait()
        }
        #expect(condition.waiterCount == 0)
    }

    @Test func notifyWakesWaitersOneAtATimeInOrderAndNotifyAllWakesTheRest() async throws {
        let condition = AsyncCondition()
        let order = Box<[Int]>([])
        var tasks: [Task<Void, any Error>] = []
        for i in 0..<4 {
            tasks.append(Task {
                try await condition.lock.withLock {
                    try await condition.wait()
                    order.with { $0.append(i) }
                }
            })
            try #require(await eventually { condition.waiterCount == i + 1 }, "waiter \(i)")
        }
        condition.notify()
        try #require(await eventually { order.get.count == 1 }, "one woken")
        #expect(condition.waiterCount == 3)
        condition.notifyAll()
        for task in tasks { try await task.value }
        #expect(order.get == [0, 1, 2, 3])
        #expect(condition.waiterCount == 0)
        #expect(condition.lock.waiterCount == 0)
    }

    @Test func aNotifyWithNoWaiterIsNotRemembered() async throws {
        let condition = AsyncCondition()
        condition.notify()
        try await condition.lock.withLock {
            #expect(await throwsTimeout { try await condition.wait(timeout: .milliseconds(20)) })
            #expect(condition.lock.isLocked)       // held again after the timeout
        }
        #expect(!condition.lock.isLocked)
        #expect(pendingTimeouts == 0)
    }

    @Test func cancelledWaiterReacquiresTheLockBeforeThrowing() async throws {
        let condition = AsyncCondition()
        let heldWhenThrown = Box(false)
        let waiter = Task {
            await WaitOutcome {
                try await condition.lock.withLock {
                    do {
                        try await condition.wait()
                    } catch {
                        heldWhenThrown.with { $0 = condition.lock.isLocked }
                        throw error
                    }
                }
            }
        }
        try #require(await eventually { condition.waiterCount == 1 }, "waiting")
        try await condition.lock.lock()
        waiter.cancel()
        // It left the condition and now queues for the lock we hold.
        try #require(await eventually { condition.waiterCount == 0 && condition.lock.waiterCount == 1 }, "re-acquiring")
        try condition.lock.unlock()
        #expect(await waiter.value == .cancelled)
        #expect(heldWhenThrown.get)
        #expect(!condition.lock.isLocked)
    }

    @Test func aCancelledWaiterConsumesNoNotification() async throws {
        let condition = AsyncCondition()
        let a = Task { await WaitOutcome { try await condition.lock.withLock { try await condition.wait() } } }
        try #require(await eventually { condition.waiterCount == 1 }, "a")
        let b = Task { await WaitOutcome { try await condition.lock.withLock { try await condition.wait() } } }
        try #require(await eventually { condition.waiterCount == 2 }, "b")
        a.cancel()
        #expect(await a.value == .cancelled)
        condition.notify(1)
        #expect(await b.value == .succeeded)
        #expect(condition.waiterCount == 0)
        #expect(!condition.lock.isLocked)
    }

    @Test func waitUntilTimesOutAtTheDeadlineWithTheLockHeld() async throws {
        let condition = AsyncCondition()
        let checks = Box(0)
        try await condition.lock.withLock {
            let outcome = await WaitOutcome {
                try await condition.wait(until: { checks.with { $0 += 1 }; return false },
                                         deadline: .now() + .milliseconds(30))
            }
            #expect(outcome == .timedOut)
            #expect(condition.lock.isLocked)
        }
        #expect(checks.get == 1)
        #expect(pendingTimeouts == 0)
    }

    @Test func futureFormWaitsAndHoldsTheLockAgain() async throws {
        try await withLoop { loop in
            let condition = AsyncCondition()
            let flag = Box(false)
            let done = condition.lock.lock(on: loop)
                .flatMap { condition.wait(on: loop) }
                .map {
                    flag.with { $0 = condition.lock.isLocked }
                    try? condition.lock.unlock()
                }
            try #require(await eventually { condition.waiterCount == 1 }, "waiting")
            try await condition.lock.withLock { condition.notify() }
            try await done.get()
            #expect(flag.get)
            #expect(!condition.lock.isLocked)
        }
    }
}
