import Foundation
import Testing
@testable import RingLoop

@Suite("AsyncRecursiveLock")
struct AsyncRecursiveLockTests {
    @Test func theOwningTaskReentersAtAnyDepth() async throws {
        let lock = AsyncRecursiveLock()
        func nested(_ depth: Int) async throws -> Int {
            try await lock.withLock {
                depth == 0 ? 0 : try await nested(depth - 1) + 1
            }
        }
        #expect(try await nested(5) == 5)
        #expect(!lock.isLocked)
        #expect(lock.waiterCount == 0)
    }

    @Test func otherTasksWaitInArrivalOrder() async throws {
        let lock = AsyncRecursiveLock()
        let release = AsyncEvent()
        let order = Box<[Int]>([])
        let holder = Task {
            try await lock.withLock { try await release.wait() }
        }
        try #require(await eventually { lock.isLocked }, "holder in")
        var tasks: [Task<Void, any Error>] = []
        for i in 0..<4 {
            tasks.append(Task {
                try await lock.withLock {
                    try await lock.withLock { order.with { $0.append(i) } }   // re-entry in the new owner
                }
            })
            try #require(await eventually { lock.waiterCount == i + 1 }, "waiter \(i)")
        }
        release.set()
        try await holder.value
        for task in tasks { try await task.value }
        #expect(order.get == [0, 1, 2, 3])
        #expect(!lock.isLocked)
    }

    @Test func childTasksDoNotInheritOwnership() async throws {
        let lock = AsyncRecursiveLock()
        try await lock.withLock {
            async let child = WaitOutcome { try await lock.withLock(timeout: .milliseconds(30)) {} }
            #expect(await child == .timedOut)
            let grouped = await withTaskGroup(of: WaitOutcome.self) { group in
                group.addTask { await WaitOutcome { try await lock.withLock(timeout: .milliseconds(30)) {} } }
                return await group.next()
            }
            #expect(grouped == .timedOut)
        }
        #expect(!lock.isLocked)
        #expect(pendingTimeouts == 0)
    }

    @Test func anUnstructuredTaskWaitsForItsCreatorThenOwnsTheLockItself() async throws {
        let lock = AsyncRecursiveLock()
        let order = Box<[String]>([])
        let spawned: Task<Void, any Error> = try await lock.withLock {
            let task = Task {
                // Inherits the creator's task-local record, but is another task.
                try await lock.withLock {
                    order.with { $0.append("child outer") }
                    try await lock.withLock { order.with { $0.append("child inner") } }
                }
            }
            try #require(await eventually { lock.waiterCount == 1 }, "child queued")
            order.with { $0.append("parent") }
            return task
        }
        try await spawned.value
        #expect(order.get == ["parent", "child outer", "child inner"])
        #expect(!lock.isLocked)
    }

    @Test func cancelledWaiterLeavesWithoutTheLock() async throws {
        let lock = AsyncRecursiveLock()
        let release = AsyncEvent()
        let holder = Task { try await lock.withLock { try await release.wait() } }
        try #require(await eventually { lock.isLocked }, "holder in")
        let ran = Box(false)
        let waiter = Task { await WaitOutcome { try await lock.withLock { ran.with { $0 = true } } } }
        try #require(await eventually { lock.waiterCount == 1 }, "waiter queued")
        waiter.cancel()
        #expect(await waiter.value == .cancelled)
        #expect(!ran.get)
        #expect(lock.waiterCount == 0)
        release.set()
        try await holder.value
        #expect(!lock.isLocked)
    }

    @Test func aThrowingBodyReleasesTheLock() async throws {
        struct Boom: Error {}
        let lock = AsyncRecursiveLock()
        await #expect(throws: Boom.self) {
            try await lock.withLock { try await lock.withLock { throw Boom() } }
        }
        #expect(!lock.isLocked)
        try await lock.withLock {}
    }

    @Test func twoLocksNestInEitherOrderWithinOneTask() async throws {
        let a = AsyncRecursiveLock()
        let b = AsyncRecursiveLock()
        try await a.withLock {
            try await b.withLock {
                try await a.withLock {
                    try await b.withLock {}
                }
            }
        }
        #expect(!a.isLocked && !b.isLocked)
    }
    /// threading.RLock.acquire()/release(): the owner may acquire again; the
    /// lock is free once every acquire is matched by a release.
    @Test func lockAndUnlockPairNestInTheOwningTask() async throws {
        let lock = AsyncRecursiveLock()
        try await lock.lock()
        try await lock.lock()
        #expect(lock.isOwnedByCurrentTask)
        try lock.unlock()
        #expect(lock.isLocked)
        try lock.unlock()
        #expect(!lock.isLocked)
        #expect(!lock.isOwnedByCurrentTask)
    }

    /// threading.RLock._is_owned(): true only in the owning thread (task).
    @Test func isOwnedByCurrentTaskIsTrueOnlyInTheOwner() async throws {
        let lock = AsyncRecursiveLock()
        try await lock.withLock {
            #expect(lock.isOwnedByCurrentTask)
            let other = await Task { lock.isOwnedByCurrentTask }.value
            #expect(!other)
        }
        #expect(!lock.isOwnedByCurrentTask)
    }

    /// threading.RLock.release() by a thread that does not own it raises
    /// RuntimeError; here it throws `RingLoopError.notLocked` and changes nothing.
    @Test func unlockByATaskThatDoesNotOwnItThrows() async throws {
        let lock = AsyncRecursiveLock()
        #expect(throws: RingLoopError.notLocked(operation: "AsyncRecursiveLock.unlock")) { try lock.unlock() }
        try await lock.lock()
        let other = await Task { () -> Bool in
            do { try lock.unlock(); return true } catch { return false }
        }.value
        #expect(!other)
        #expect(lock.isOwnedByCurrentTask)
        try lock.unlock()
        #expect(!lock.isLocked)
    }

    /// RLock.acquire(timeout=...) in another thread waits, then gets the lock
    /// once the owner's last release hands it over.
    @Test func anotherTaskLocksOnceTheOwnersLastUnlockHandsItOver() async throws {
        let lock = AsyncRecursiveLock()
        try await lock.lock()
        try await lock.lock()
        let waiter = Task { () -> Bool in
            try await lock.lock(timeout: .seconds(10))
            let owned = lock.isOwnedByCurrentTask
            try lock.unlock()
            return owned
        }
        try #require(await eventually { lock.waiterCount == 1 }, "waiter")
        try lock.unlock()
        #expect(lock.waiterCount == 1)
        try lock.unlock()
        #expect(try await waiter.value)
        #expect(!lock.isLocked)
        #expect(pendingTimeouts == 0)
    }
}
