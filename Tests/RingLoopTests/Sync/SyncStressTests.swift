import Foundation
import Synchronization
import Testing
@testable import RingLoop

/// Shared counters for the stress tests (atomics: checked without a lock, so a
/// broken primitive shows up as a violated invariant, not as a hidden race).
final class StressCounters: Sendable {
    let inside = Atomic<Int>(0)
    let maxInside = Atomic<Int>(0)
    let violations = Atomic<Int>(0)
    let completed = Atomic<Int>(0)

    /// Enters a guarded section; records how many are inside at once.
    func enter(limit: Int) {
        let now = inside.add(1, ordering: .sequentiallyConsistent).newValue
        if now > limit { violations.add(1, ordering: .relaxed) }
        var seen = maxInside.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = maxInside.compareExchange(expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }

    func leave() {
        inside.subtract(1, ordering: .sequentiallyConsistent)
        completed.add(1, ordering: .relaxed)
    }
}

/// Many tasks on the global pool and on two event loops contend for each
/// primitive; invariants are checked throughout and no waiter may be left.
/// Each test is bounded (a few seconds in a debug build on 2 cores).
@Suite("SyncStress")
struct SyncStressTests {
    /// Runs `tasks` copies of `body` (given its index), alternating between the
    /// global pool and the group's loops.
    static func contend(
        _ tasks: Int,
        on group: EventLoopGroup,
        _ body: @escaping @Sendable (Int) async throws -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { taskGroup in
            for i in 0..<tasks {
                if i % 2 == 0 {
                    taskGroup.addTask(executorPreference: group.loops[(i / 2) % group.loops.count]) { try await body(i) }
                } else {
                    taskGroup.addTask { try await body(i) }
                }
            }
            try await taskGroup.waitForAll()
        }
    }

    static func withGroup<T>(_ body: (EventLoopGroup) async throws -> T) async throws -> T {
        let group = try EventLoopGroup(numberOfLoops: 2)
        do {
            let value = try await body(group)
            await group.shutdownGracefully()
            return value
        } catch {
            await group.shutdownGracefully()
            throw error
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func lockKeepsMutualExclusionAcrossExecutorsAndCallbacks() async throws {
        try await Self.withGroup { group in
            let lock = AsyncLock()
            let counters = StressCounters()
            let iterations = 2_000
            // Future-form contenders: callback chains on each loop.
            let chains = group.loops.map { loop in
                Self.lockChain(lock, on: loop, counters: counters, remaining: iterations)
            }
            try await Self.contend(16, on: group) { i in
                for n in 0..<iterations {
                    try await lock.withLock {
                        counters.enter(limit: 1)
                        if n % 4 == i % 4 { await Task.yield() }
                        counters.leave()
                    }
                }
            }
            for chain in chains { try await chain.get() }
            #expect(counters.violations.load(ordering: .relaxed) == 0)
            #expect(counters.maxInside.load(ordering: .relaxed) == 1)
            #expect(counters.completed.load(ordering: .relaxed) == (16 + group.loops.count) * iterations)
            #expect(!lock.isLocked)
            #expect(lock.waiterCount == 0)
        }
    }

    static func lockChain(_ lock: AsyncLock, on loop: EventLoop, counters: StressCounters, remaining: Int) -> Future<Void> {
        guard remaining > 0 else { return loop.makeSucceededFuture(()) }
        return lock.lock(on: loop).flatMap {
            counters.enter(limit: 1)
            counters.leave()
            do { try lock.unlock() } catch { counters.violations.add(1, ordering: .relaxed) }
            return lockChain(lock, on: loop, counters: counters, remaining: remaining - 1)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func semaphoreNeverExceedsItsCountWithTimeoutsMixedIn() async throws {
        try await Self.withGroup { group in
            let semaphore = AsyncSemaphore(value: 3)
            let counters = StressCounters()
            let timedOut = Atomic<Int>(0)
            try await Self.contend(24, on: group) { i in
                for n in 0..<1_500 {
                    do {
                        // Every 7th acquire has a deadline short enough to fire sometimes.
                        let deadline: Deadline = (n + i) % 7 == 0 ? .now() + .microseconds(200) : .distantFuture
                        try await semaphore.withPermit(deadline: deadline) {
                            counters.enter(limit: 3)
                            if n % 3 == 0 { await Task.yield() }
                            counters.leave()
                        }
                    } catch RingLoopError.timedOut {
                        timedOut.add(1, ordering: .relaxed)
                    }
                }
            }
            #expect(counters.violations.load(ordering: .relaxed) == 0)
            #expect(counters.maxInside.load(ordering: .relaxed) <= 3)
            #expect(counters.completed.load(ordering: .relaxed) + timedOut.load(ordering: .relaxed) == 24 * 1_500)
            #expect(semaphore.availablePermits == 3)
            #expect(semaphore.waiterCount == 0)
            try #require(await eventually { pendingTimeouts == 0 }, "timers gone")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func boundedFifoQueueDeliversEveryItemExactlyOnceAndInOrder() async throws {
        try await Self.withGroup { group in
            let queue = AsyncQueue<UInt64>(capacity: 8)
            let producers = 6
            let perProducer = 15_000
            let received = Box([[Int]](repeating: [], count: producers))
            let outOfOrder = Atomic<Int>(0)
            let producersDone = Atomic<Int>(0)
            try await Self.contend(producers + 4, on: group) { i in
                if i < producers {
                    for seq in 0..<perProducer {
                        try await queue.put(UInt64(i) << 32 | UInt64(seq))
                    }
                    if producersDone.add(1, ordering: .relaxed).newValue == producers { queue.close() }
                } else {
                    var last = [Int](repeating: -1, count: producers)
                    var mine = [[Int]](repeating: [], count: producers)
                    for try await item in queue {
                        let producer = Int(item >> 32)
                        let seq = Int(item & 0xFFFF_FFFF)
                        if seq <= last[producer] { outOfOrder.add(1, ordering: .relaxed) }
                        last[producer] = seq
                        mine[producer].append(seq)
                    }
                    received.with { all in
                        for p in 0..<producers { all[p].append(contentsOf: mine[p]) }
                    }
                }
            }
            #expect(outOfOrder.load(ordering: .relaxed) == 0)
            for p in 0..<producers {
                #expect(received.get[p].sorted() == Array(0..<perProducer))
            }
            #expect(queue.count == 0)
            #expect(queue.waiterCount == 0)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func priorityAndLifoQueuesDeliverEveryItemExactlyOnce() async throws {
        for order in [AsyncQueue<Int>.Order.lifo, .priority] {
            try await Self.withGroup { group in
                let queue = AsyncQueue<Int>(order: order, capacity: 16)
                let total = 30_000
                let seen = Box([Int]())
                let putters = Atomic<Int>(0)
                try await Self.contend(6, on: group) { i in
                    if i < 4 {
                        for n in stride(from: i, to: total, by: 4) { try await queue.put(n) }
                        if putters.add(1, ordering: .relaxed).newValue == 4 { queue.close() }
                    } else {
                        var mine: [Int] = []
                        for try await item in queue { mine.append(item) }
                        seen.with { $0.append(contentsOf: mine) }
                    }
                }
                #expect(seen.get.sorted() == Array(0..<total))
                #expect(queue.waiterCount == 0)
            }
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func cancellationStormsLeaveNoWaiterBehind() async throws {
        for seed in [7, 11, 13] as [UInt64] {
            try await Self.cancellationStorm(seed: seed, waiters: 300)
        }
        #expect(pendingTimeouts == 0)
    }

    static func cancellationStorm(seed: UInt64, waiters: Int) async throws {
        var rng = SeededGenerator(seed: seed)
        try await Self.withGroup { group in
            // Each case: queue `waiters` waiters, cancel a random half, then
            // release enough for the rest; check the state is as if the
            // cancelled ones had never come.
            let lock = AsyncLock()
            try await lock.lock()
            try await storm(waiters, group: group, rng: &rng, count: { lock.waiterCount }) {
                try await lock.lock()
                try lock.unlock()
            } release: { _ in try lock.unlock() }
            #expect(!lock.isLocked)

            let semaphore = AsyncSemaphore(value: 0)
            try await storm(waiters, group: group, rng: &rng, count: { semaphore.waiterCount }) {
                try await semaphore.acquire()
            } release: { survivors in semaphore.release(survivors + 5) }
            #expect(semaphore.availablePermits == 5)

            let event = AsyncEvent()
            try await storm(waiters, group: group, rng: &rng, count: { event.waiterCount }) {
                try await event.wait()
            } release: { _ in event.set() }

            let condition = AsyncCondition()
            try await storm(waiters, group: group, rng: &rng, count: { condition.waiterCount }) {
                try await condition.lock.withLock { try await condition.wait() }
            } release: { _ in condition.notifyAll() }
            #expect(!condition.lock.isLocked)
            #expect(condition.lock.waiterCount == 0)

            // A party that leaves breaks the barrier (Python's behaviour):
            // every other waiter throws BrokenBarrierError, none is left behind.
            let barrier = AsyncBarrier(parties: waiters + 1)
            var parties: [Task<WaitOutcome, Never>] = []
            for i in 0..<waiters {
                let body: @Sendable () async -> WaitOutcome = { await WaitOutcome { _ = try await barrier.wait() } }
                parties.append(i % 2 == 0
                    ? Task(executorPreference: group.loops[(i / 2) % group.loops.count], operation: body)
                    : Task(operation: body))
            }
            try #require(await eventually { barrier.waiterCount == waiters }, "\(waiters) parties")
            let leaver = Int.random(in: 0..<waiters, using: &rng)
            parties[leaver].cancel()
            for (i, party) in parties.enumerated() {
                let outcome = await party.value
                #expect(outcome == (i == leaver ? .cancelled : .other("\(BrokenBarrierError())")))
            }
            #expect(barrier.waiterCount == 0)
            #expect(barrier.isBroken)

            let queue = AsyncQueue<Int>()
            try await storm(waiters, group: group, rng: &rng, count: { queue.waiterCount }) {
                _ = try await queue.get()
            } release: { survivors in
                for i in 0..<survivors { try queue.tryPut(i) }
                try queue.tryPut(-1)
            }
            #expect(try queue.tryGet() == -1)          // cancelled getters took nothing

            let full = AsyncQueue<Int>(capacity: 1)
            try full.tryPut(0)
            try await storm(waiters, group: group, rng: &rng, count: { full.waiterCount }) {
                try await full.put(1)
            } release: { survivors in
                for _ in 0...survivors { _ = try await full.get() }
            }
            #expect(full.count == 0)                     // cancelled putters added nothing

            let recursive = AsyncRecursiveLock()
            let gate = AsyncEvent()
            let holder = Task { try await recursive.withLock { try await gate.wait() } }
            try #require(await eventually { recursive.isLocked }, "holder")
            try await storm(waiters, group: group, rng: &rng, count: { recursive.waiterCount }) {
                try await recursive.withLock {}
            } release: { _ in gate.set() }
            try await holder.value
            #expect(!recursive.isLocked)
        }
    }

    /// Queues `count` waiters running `wait`, cancels a seeded-random half,
    /// checks they threw `CancellationError` and left, then calls `release`
    /// with the number of survivors and checks every survivor got through.
    @discardableResult
    static func storm(
        _ count: Int,
        group: EventLoopGroup,
        rng: inout SeededGenerator,
        count waiting: @escaping @Sendable () -> Int,
        wait: @escaping @Sendable () async throws -> Void,
        release: (Int) async throws -> Void
    ) async throws -> Int {
        var tasks: [Task<WaitOutcome, Never>] = []
        for i in 0..<count {
            let body: @Sendable () async -> WaitOutcome = { await WaitOutcome { try await wait() } }
            tasks.append(i % 2 == 0
                ? Task(executorPreference: group.loops[(i / 2) % group.loops.count], operation: body)
                : Task(operation: body))
        }
        try #require(await eventually { waiting() == count }, "\(count) waiters")
        var cancelled = Set<Int>()
        while cancelled.count < count / 2 { cancelled.insert(Int.random(in: 0..<count, using: &rng)) }
        for i in cancelled { tasks[i].cancel() }
        for i in cancelled {
            let outcome = await tasks[i].value
            #expect(outcome == .cancelled)
        }
        #expect(waiting() == count - cancelled.count)
        try await release(count - cancelled.count)
        for (i, task) in tasks.enumerated() where !cancelled.contains(i) {
            let outcome = await task.value
            #expect(outcome == .succeeded)
        }
        #expect(waiting() == 0)
        return count - cancelled.count
    }

    @Test(.timeLimit(.minutes(1)))
    func concurrentCancelsAndReleasesResumeEveryWaiterOnce() async throws {
        // Cancels race with releases from another thread: every waiter ends
        // exactly once, and permits balance (taken + left == released).
        try await Self.withGroup { group in
            for round in 0..<50 {
                let semaphore = AsyncSemaphore(value: 0)
                let n = 100
                var tasks: [Task<WaitOutcome, Never>] = []
                for i in 0..<n {
                    let body: @Sendable () async -> WaitOutcome = { await WaitOutcome { try await semaphore.acquire() } }
                    tasks.append(i % 2 == 0 ? Task(executorPreference: group.loops[(i / 2) % 2], operation: body) : Task(operation: body))
                }
                try #require(await eventually { semaphore.waiterCount == n }, "round \(round)")
                let releaser = Task.detached { for _ in 0..<(n / 2) { semaphore.release() } }
                for i in stride(from: 0, to: n, by: 2) { tasks[i].cancel() }
                await releaser.value
                // Whoever still waits (permits went to waiters whose cancel
                // lost the race) gets through now.
                semaphore.release(n)
                var succeeded = 0
                var cancelled = 0
                for task in tasks {
                    switch await task.value {
                    case .succeeded: succeeded += 1
                    case .cancelled: cancelled += 1
                    default: Issue.record("unexpected outcome")
                    }
                }
                #expect(succeeded + cancelled == n)
                #expect(semaphore.availablePermits == n + n / 2 - succeeded)
                #expect(semaphore.waiterCount == 0)
            }
        }
    }

    /// Timed waits end at their deadline: never before it, and about on time.
    /// "On time" is judged against plain `Task.sleep`s to the same deadlines
    /// in the same window, on the same executors: on a machine too busy to
    /// run the process for a while, both are late together, while a timer
    /// that sleeps past an earlier deadline (the bug this catches) makes the
    /// timeouts alone late by tens of milliseconds.
    @Test(.timeLimit(.minutes(1)))
    func timeoutsFireOnTime() async throws {
        try await Self.withGroup { group in
            let lock = AsyncLock()
            try await lock.lock()
            let n = 200
            let lateness = Box([Duration]())
            let sleepLateness = Box([Duration]())
            let early = Atomic<Int>(0)
            try await Self.contend(2 * n, on: group) { i in
                let delay = Duration.milliseconds(20 + (i / 2) % 100)
                let deadline = Deadline.now() + delay
                if i % 4 < 2 {
                    do {
                        try await lock.lock(deadline: deadline)
                        Issue.record("acquired a held lock")
                    } catch RingLoopError.timedOut {
                        let late = Deadline.now() - deadline
                        if late < .zero { early.add(1, ordering: .relaxed) }
                        lateness.with { $0.append(late) }
                    }
                } else {
                    try await Task.sleep(for: delay)
                    sleepLateness.with { $0.append(Deadline.now() - deadline) }
                }
            }
            let sorted = lateness.get.sorted()
            let sleeps = sleepLateness.get.sorted()
            #expect(sorted.count == n)
            #expect(sleeps.count == n)
            #expect(early.load(ordering: .relaxed) == 0)
            let median = sorted[n / 2]
            let worst = sorted[n - 1]
            print("timeoutsFireOnTime: \(n) timeouts, median lateness \(median), worst \(worst); "
                  + "Task.sleep median \(sleeps[n / 2]), worst \(sleeps[n - 1])")
            #expect(median < sleeps[n / 2] + .milliseconds(20))
            #expect(worst < sleeps[n - 1] + .milliseconds(250))
            #expect(lock.waiterCount == 0)
            try lock.unlock()
            #expect(pendingTimeouts == 0)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func conditionBoundedBufferUnderContention() async throws {
        try await Self.withGroup { group in
            let lock = AsyncLock()
            let notEmpty = AsyncCondition(lock: lock)
            let notFull = AsyncCondition(lock: lock)
            let buffer = Box([Int]())
            let capacity = 4
            let producers = 4
            let perProducer = 2_500
            let consumed = Box([Int]())
            let violations = Atomic<Int>(0)
            try await Self.contend(producers * 2, on: group) { i in
                if i < producers {
                    for n in 0..<perProducer {
                        try await lock.withLock {
                            try await notFull.wait(until: { buffer.get.count < capacity })
                            buffer.with { $0.append(i * perProducer + n) }
                            if buffer.get.count > capacity { violations.add(1, ordering: .relaxed) }
                            notEmpty.notify()
                        }
                    }
                } else {
                    for _ in 0..<perProducer {
                        let item = try await lock.withLock {
                            try await notEmpty.wait(until: { !buffer.get.isEmpty })
                            let item = buffer.with { $0.removeFirst() }
                            notFull.notify()
                            return item
                        }
                        consumed.with { $0.append(item) }
                    }
                }
            }
            #expect(violations.load(ordering: .relaxed) == 0)
            #expect(consumed.get.sorted() == Array(0..<(producers * perProducer)))
            #expect(notEmpty.waiterCount == 0 && notFull.waiterCount == 0)
            #expect(!lock.isLocked && lock.waiterCount == 0)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func barrierRoundsStayInStepAcrossExecutors() async throws {
        try await Self.withGroup { group in
            let parties = 6
            let rounds = 2_000
            let barrier = AsyncBarrier(parties: parties)
            let arrivals = Box([Int](repeating: 0, count: rounds))
            let outOfStep = Atomic<Int>(0)
            let leaders = Box([Int](repeating: 0, count: rounds))
            try await Self.contend(parties, on: group) { _ in
                for round in 0..<rounds {
                    arrivals.with { $0[round] += 1 }
                    let index = try await barrier.wait()
                    // Everyone of this round arrived; nobody of the next yet
                    // passed (they need this caller too).
                    if arrivals.get[round] != parties { outOfStep.add(1, ordering: .relaxed) }
                    if index == parties - 1 { leaders.with { $0[round] += 1 } }
                }
            }
            #expect(outOfStep.load(ordering: .relaxed) == 0)
            #expect(leaders.get == [Int](repeating: 1, count: rounds))
            #expect(barrier.waiterCount == 0)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func recursiveLockKeepsMutualExclusionWithReentry() async throws {
        try await Self.withGroup { group in
            let lock = AsyncRecursiveLock()
            let counters = StressCounters()
            try await Self.contend(12, on: group) { _ in
                for n in 0..<1_000 {
                    try await lock.withLock {
                        counters.enter(limit: 1)
                        try await lock.withLock {
                            if n % 5 == 0 { await Task.yield() }
                        }
                        counters.leave()
                    }
                }
            }
            #expect(counters.violations.load(ordering: .relaxed) == 0)
            #expect(counters.completed.load(ordering: .relaxed) == 12 * 1_000)
            #expect(!lock.isLocked && lock.waiterCount == 0)
        }
    }
}
