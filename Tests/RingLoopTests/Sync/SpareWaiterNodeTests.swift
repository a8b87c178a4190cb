import Synchronization
import Testing
@testable import RingLoop

/// `AsyncLock` and `AsyncSemaphore` keep the node of a finished wait for the
/// next one (`WaiterCache`). A reused node must behave exactly like a new one
/// whatever its last wait ended with: a hand-off, a cancellation while queued,
/// a cancellation that lost to a hand-off, a timeout.
@Suite("Spare waiter nodes")
struct SpareWaiterNodeTests {
    @Test func aWaitThatEndsKeepsItsNodeAndTheNextWaitTakesIt() async throws {
        try await withLoop { loop in
            let lock = AsyncLock()
            #expect(lock.tryLock())
            #expect(!lock.holdsSpareNode)
            let first = Task(executorPreference: loop) { try await lock.lock() }
            try #require(await eventually { lock.waiterCount == 1 }, "first waiter")
            try lock.unlock()
            try await first.value
            #expect(lock.holdsSpareNode)
            let second = Task(executorPreference: loop) { try await lock.lock() }
            try #require(await eventually { lock.waiterCount == 1 }, "second waiter")
            #expect(!lock.holdsSpareNode)
            try lock.unlock()
            try await second.value
            #expect(lock.holdsSpareNode)
            try lock.unlock()
        }
    }

    /// Every way a wait can end, one after another on the same lock, each
    /// followed by a plain hand-off that must see a clean node.
    @Test func aReusedNodeBehavesLikeANewOneAfterEveryKindOfEnding() async throws {
        try await withLoop { loop in
            let lock = AsyncLock()
            #expect(lock.tryLock())
            for round in 0..<20 {
                // Cancelled while queued: leaves without the lock.
                let cancelled = Task(executorPreference: loop) { await WaitOutcome { try await lock.lock() } }
                try #require(await eventually { lock.waiterCount == 1 }, "round \(round): queued")
                cancelled.cancel()
                #expect(await cancelled.value == .cancelled)
                #expect(lock.waiterCount == 0 && lock.isLocked)

                // Handed the lock, then cancelled before it ran: passes it on.
                let handedThenCancelled = Task(executorPreference: loop) {
                    await WaitOutcome { try await lock.lock() }
                }
                try #require(await eventually { lock.waiterCount == 1 }, "round \(round): queued again")
                try await loop.submit {
                    try lock.unlock()
                    handedThenCancelled.cancel()
                }.get()
                #expect(await handedThenCancelled.value == .cancelled)
                #expect(!lock.isLocked)
                #expect(lock.tryLock())

                // Timed out.
                #expect(await WaitOutcome { try await lock.lock(timeout: .milliseconds(1)) } == .timedOut)

                // A plain hand-off, on whatever node is spare now.
                let plain = Task(executorPreference: loop) { await WaitOutcome { try await lock.lock() } }
                try #require(await eventually { lock.waiterCount == 1 }, "round \(round): plain waiter")
                try lock.unlock()
                #expect(await plain.value == .succeeded)
                #expect(lock.isLocked && lock.waiterCount == 0)
            }
            try lock.unlock()
            #expect(pendingTimeouts == 0)
        }
    }

    @Test func aSemaphoreNodeReusedAfterACancellationStillGetsItsPermit() async throws {
        try await withLoop { loop in
            let semaphore = AsyncSemaphore(value: 0)
            for round in 0..<20 {
                let cancelled = Task(executorPreference: loop) { await WaitOutcome { try await semaphore.acquire() } }
                try #require(await eventually { semaphore.waiterCount == 1 }, "round \(round): queued")
                cancelled.cancel()
                #expect(await cancelled.value == .cancelled)
                let waiter = Task(executorPreference: loop) { await WaitOutcome { try await semaphore.acquire() } }
                try #require(await eventually { semaphore.waiterCount == 1 }, "round \(round): waiter")
                semaphore.release()
                #expect(await waiter.value == .succeeded)
                #expect(semaphore.availablePermits == 0)
            }
            #expect(semaphore.holdsSpareNode)
        }
    }

    /// Many short-lived tasks on two loops and the global pool take a lock
    /// and a semaphore (3 permits) in turn while a seeded half of them is
    /// cancelled as they wait, so spare nodes pass between threads and
    /// between waits that end every way. Counts must come out exact.
    @Test(.timeLimit(.minutes(1)))
    func handOffsStayExactWithCancellationsAcrossLoopsAndThreads() async throws {
        var rng = SeededGenerator(seed: 0x5EED_0014)
        let group = try EventLoopGroup(numberOfLoops: 2)
        let lock = AsyncLock()
        let semaphore = AsyncSemaphore(value: 3)
        let insideLock = Atomic<Int>(0)
        let insideSemaphore = Atomic<Int>(0)
        let violations = Atomic<Int>(0)
        var succeeded = 0
        var cancelled = 0
        for _ in 0..<40 {
            var tasks: [Task<WaitOutcome, Never>] = []
            for i in 0..<16 {
                let body: @Sendable () async -> WaitOutcome = {
                    await WaitOutcome {
                        if i % 3 == 0 {
                            try await semaphore.withPermit {
                                if insideSemaphore.add(1, ordering: .relaxed).newValue > 3 {
                                    violations.add(1, ordering: .relaxed)
                                }
                                await Task.yield()
                                insideSemaphore.subtract(1, ordering: .relaxed)
                            }
                        } else {
                            try await lock.withLock {
                                if insideLock.add(1, ordering: .relaxed).newValue > 1 {
                                    violations.add(1, ordering: .relaxed)
                                }
                                await Task.yield()
                                insideLock.subtract(1, ordering: .relaxed)
                            }
                        }
                    }
                }
                if i % 3 == 2 {
                    tasks.append(Task { await body() })
                } else {
                    tasks.append(Task(executorPreference: group.loops[i % 2]) { await body() })
                }
            }
            for task in tasks where rng.next() % 2 == 0 { task.cancel() }
            for task in tasks {
                switch await task.value {
                case .succeeded: succeeded += 1
                case .cancelled: cancelled += 1
                case let other: Issue.record("unexpected outcome \(other)")
                }
            }
        }
        print("handOffsStayExact: \(succeeded) succeeded, \(cancelled) cancelled")
        #expect(succeeded + cancelled == 40 * 16)
        #expect(succeeded > 0)
        #expect(violations.load(ordering: .relaxed) == 0)
        #expect(!lock.isLocked && lock.waiterCount == 0)
        #expect(semaphore.availablePermits == 3 && semaphore.waiterCount == 0)
        await group.shutdownGracefully()
    }
}
