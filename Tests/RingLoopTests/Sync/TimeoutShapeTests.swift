import Testing
@testable import RingLoop

/// Every waiting call of every primitive takes a bound in one of two shapes,
/// `timeout: Duration` or `deadline: Deadline` (Python's `timeout=` on
/// `Lock.acquire`, `Semaphore.acquire`, `Event.wait`, `Condition.wait`,
/// `Condition.wait_for`, `Barrier.wait`, `Queue.get`/`put`), and every release
/// that can be misused throws a `RingLoopError` while the others do not
/// throw. This suite compiles only while that holds; each call completes at
/// once.
@Suite("Timeout shape")
struct TimeoutShapeTests {
    @Test func everyWaitTakesATimeoutOrADeadline() async throws {
        let soon = Deadline.now() + .seconds(5)
        let wait = Duration.seconds(5)

        let lock = AsyncLock()
        try await lock.lock(timeout: wait); try lock.unlock()
        try await lock.lock(deadline: soon); try lock.unlock()
        try await lock.withLock(timeout: wait) {}
        try await lock.withLock(deadline: soon) {}

        let recursive = AsyncRecursiveLock()
        try await recursive.lock(timeout: wait); try recursive.unlock()
        try await recursive.lock(deadline: soon); try recursive.unlock()
        try await recursive.withLock(timeout: wait) {}
        try await recursive.withLock(deadline: soon) {}

        let semaphore = AsyncSemaphore(value: 1)
        try await semaphore.acquire(timeout: wait); semaphore.release()
        try await semaphore.acquire(deadline: soon); semaphore.release()
        try await semaphore.withPermit(timeout: wait) {}
        try await semaphore.withPermit(deadline: soon) {}

        let bounded = BoundedAsyncSemaphore(value: 1)
        try await bounded.acquire(timeout: wait); try bounded.release()
        try await bounded.acquire(deadline: soon); try bounded.release()
        try await bounded.withPermit(timeout: wait) {}
        try await bounded.withPermit(deadline: soon) {}

        let event = AsyncEvent(isSet: true)
        try await event.wait(timeout: wait)
        try await event.wait(deadline: soon)

        let condition = AsyncCondition()
        try await condition.lock.withLock {
            try await condition.wait(until: { true }, timeout: wait)
            try await condition.wait(until: { true }, deadline: soon)
        }

        let barrier = AsyncBarrier(parties: 1)
        #expect(try await barrier.wait(timeout: wait) == 0)
        #expect(try await barrier.wait(deadline: soon) == 0)

        let queue = AsyncQueue<Int>()
        try await queue.put(1, timeout: wait)
        try await queue.put(2, deadline: soon)
        #expect(try await queue.get(timeout: wait) == 1)
        #expect(try await queue.get(deadline: soon) == 2)
        try queue.taskDone(); try queue.taskDone()
        try await queue.join(timeout: wait)
        try await queue.join(deadline: soon)
        #expect(pendingTimeouts == 0)
    }
}
