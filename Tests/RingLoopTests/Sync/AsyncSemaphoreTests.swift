import Foundation
import Testing
@testable import RingLoop

@Suite("AsyncSemaphore")
struct AsyncSemaphoreTests {
    @Test func permitsCountDownAndBackUp() async throws {
        let semaphore = AsyncSemaphore(value: 2)
        try await semaphore.acquire()
        #expect(semaphore.tryAcquire())
        #expect(!semaphore.tryAcquire())
        #expect(semaphore.availablePermits == 0)
        semaphore.release()
        semaphore.release()
        #expect(semaphore.availablePermits == 2)
    }

    @Test func permitsGoToWaitersInArrivalOrder() async throws {
        let semaphore = AsyncSemaphore(value: 0)
        let order = Box<[Int]>([])
        var tasks: [Task<Void, any Error>] = []
        for i in 0..<5 {
            tasks.append(Task { try await semaphore.acquire(); order.with { $0.append(i) } })
            try #require(await eventually { semaphore.waiterCount == i + 1 }, "waiter \(i)")
        }
        for i in 0..<5 {
            semaphore.release()
            try #require(await eventually { order.get.count == i + 1 }, "waiter \(i) through")
        }
        for task in tasks { try await task.value }
        #expect(order.get == [0, 1, 2, 3, 4])
        #expect(semaphore.availablePermits == 0)
    }

    @Test func releaseHandsThePermitOverSoNewcomersCannotBarge() async throws {
        let semaphore = AsyncSemaphore(value: 0)
        let waiter = Task { try await semaphore.acquire() }
        try #require(await eventually { semaphore.waiterCount == 1 }, "waiter")
        semaphore.release()
        #expect(!semaphore.tryAcquire())
        try await waiter.value
        #expect(semaphore.availablePermits == 0)
    }

    @Test func releasingSeveralPermitsWakesSeveralWaiters() async throws {
        let semaphore = AsyncSemaphore(value: 0)
        var tasks: [Task<Void, any Error>] = []
        for _ in 0..<3 { tasks.append(Task { try await semaphore.acquire() }) }
        try #require(await eventually { semaphore.waiterCount == 3 }, "3 waiters")
        semaphore.release(5)
        for task in tasks { try await task.value }
        #expect(semaphore.availablePermits == 2)
    }

    @Test func cancelledWaiterTakesNoPermit() async throws {
        let semaphore = AsyncSemaphore(value: 0)
        let waiter = Task { await WaitOutcome { try await semaphore.acquire() } }
        try #require(await eventually { semaphore.waiterCount == 1 }, "waiter")
        waiter.cancel()
        #expect(await waiter.value == .cancelled)
        #expect(semaphore.waiterCount == 0)
        semaphore.release()
        #expect(semaphore.availablePermits == 1)
    }

    @Test func timedOutWaiterTakesNoPermitAndLeavesNoTimer() async throws {
        let semaphore = AsyncSemaphore(value: 0)
        let start = Deadline.now()
        #expect(await throwsTimeout { try await semaphore.acquire(timeout: .milliseconds(40)) })
        #expect(Deadline.now() - start >= .milliseconds(40))
        #expect(semaphore.waiterCount == 0)
        semaphore.release()
        #expect(semaphore.availablePermits == 1)
        #expect(pendingTimeouts == 0)
    }

    @Test func withPermitReturnsThePermitWhenTheBodyThrows() async throws {
        struct Boom: Error {}
        let semaphore = AsyncSemaphore(value: 1)
        await #expect(throws: Boom.self) { try await semaphore.withPermit { throw Boom() } }
        #expect(semaphore.availablePermits == 1)
    }

    @Test func futureFormWaitsForAPermitOnTheLoop() async throws {
        try await withLoop { loop in
            let semaphore = AsyncSemaphore(value: 1)
            try await semaphore.acquire(on: loop).get()
            let onLoop = Box(false)
            let waiting = semaphore.acquire(on: loop).map { onLoop.with { $0 = loop.inEventLoop } }
            let late = semaphore.acquire(on: loop, deadline: .now() + .milliseconds(10))
            await #expect(throws: RingLoopError.timedOut(operation: "AsyncSemaphore.acquire")) { try await late.get() }
            semaphore.release()
            try await waiting.get()
            #expect(onLoop.get)
            #expect(semaphore.availablePermits == 0)
            #expect(semaphore.waiterCount == 0)
        }
    }

    @Test func boundedSemaphoreRefusesOverRelease() async throws {
        let semaphore = BoundedAsyncSemaphore(value: 2)
        #expect(throws: RingLoopError.overReleased(operation: "BoundedAsyncSemaphore.release")) {
            try semaphore.release()
        }
        try await semaphore.acquire()
        try await semaphore.acquire()
        #expect(throws: RingLoopError.overReleased(operation: "BoundedAsyncSemaphore.release")) {
            try semaphore.release(3)
        }
        #expect(semaphore.availablePermits == 0)      // refused: released nothing
        try semaphore.release(2)
        #expect(semaphore.availablePermits == 2)
        #expect(throws: RingLoopError.self) { try semaphore.release() }
    }

    @Test func boundedSemaphoreHandsReleasesToWaiters() async throws {
        let semaphore = BoundedAsyncSemaphore(value: 1)
        try await semaphore.acquire()
        let waiter = Task { try await semaphore.acquire() }
        try #require(await eventually { semaphore.waiterCount == 1 }, "waiter")
        try semaphore.release()
        try await waiter.value
        try semaphore.release()
        #expect(semaphore.availablePermits == 1)
    }
}
