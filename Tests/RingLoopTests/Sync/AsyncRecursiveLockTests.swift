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
        try await settle("holder in") { lock.isLocked }
        var tasks: [Task<Void, any Error>] = []
        for i in 0..<4 {
            tasks.append(Task {
                try await lock.withLock {
                    try await lock.withLock { order.with { $0.append(i) } }   // re-entry in the new owner
                }
            })
            try await settle("waiter \(i)") { lock.waiterCount == i + 1 }
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
            try await settle("child queued") { lock.waiterCount == 1 }
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
        try await settle("holder in") { lock.isLocked }
        let ran = Box(false)
        let waiter = Task { await WaitOutcome { try await lock.withLock { ran.with { $0 = true } } } }
        try await settle("waiter queued") { lock.waiterCount == 1 }
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
}
