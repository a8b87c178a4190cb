#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RingLoop
import Synchronization

/// RingLoop's sync primitives under N tasks (spread over one event loop per core) against
/// their blocking pthread equivalents under N threads. Every case checks its invariant:
/// the lock's counter adds up, the semaphore never admits more than its permits, the queue
/// delivers every item exactly once.
enum SyncSection {
    static func make(quick: Bool) throws -> MicroSection {
        let group = try EventLoopGroup(numberOfLoops: System.coreCount)
        let workerCounts = quick ? [16] : [2, 16, 128]
        let operations = quick ? 400_000 : 2_000_000
        let permits = 4
        let capacity = 1024

        var cases: [MicroCase] = []
        for n in workerCounts {
            let each = operations / n

            let lock = "lock: \(n) workers increment one counter"
            cases.append(MicroCase(group: lock, name: "AsyncLock, \(n) tasks", isRingLoop: true, operations: each * n) { _, watch in
                let lock = AsyncLock()
                let state = GuardedCounter()
                try onTasks(group, n) { _ in
                    for _ in 0..<each {
                        try await lock.lock()
                        state.increment()
                        try lock.unlock()
                    }
                }
                watch.stop()
                try state.check(expected: each * n)
                return nil
            })
            cases.append(MicroCase(group: lock, name: "pthread mutex, \(n) threads", isRingLoop: false, operations: each * n) { _, watch in
                let mutex = PthreadMutex()
                let state = GuardedCounter()
                try onThreads(n) { _ in
                    for _ in 0..<each {
                        mutex.lock()
                        state.increment()
                        mutex.unlock()
                    }
                }
                watch.stop()
                try state.check(expected: each * n)
                return nil
            })

            let semaphore = "semaphore: \(n) workers share \(permits) permits"
            cases.append(MicroCase(group: semaphore, name: "AsyncSemaphore, \(n) tasks", isRingLoop: true, operations: each * n) { _, watch in
                let semaphore = AsyncSemaphore(value: permits)
                let holders = HolderCount()
                try onTasks(group, n) { _ in
                    for _ in 0..<each {
                        try await semaphore.acquire()
                        holders.enter()
                        holders.leave()
                        semaphore.release()
                    }
                }
                watch.stop()
                try holders.check(expected: each * n, limit: permits)
                return nil
            })
            cases.append(MicroCase(group: semaphore, name: "sem_t, \(n) threads", isRingLoop: false, operations: each * n) { _, watch in
                let semaphore = PosixSemaphore(value: UInt32(permits))
                let holders = HolderCount()
                try onThreads(n) { _ in
                    for _ in 0..<each {
                        semaphore.wait()
                        holders.enter()
                        holders.leave()
                        semaphore.post()
                    }
                }
                watch.stop()
                try holders.check(expected: each * n, limit: permits)
                return nil
            })

            let pairs = max(1, n / 2)
            let perProducer = operations / pairs
            let queue = "queue: \(pairs) producers -> \(pairs) consumers, capacity \(capacity)"
            cases.append(MicroCase(group: queue, name: "AsyncQueue, \(2 * pairs) tasks", isRingLoop: true, operations: perProducer * pairs) { _, watch in
                let queue = AsyncQueue<Int>(capacity: capacity)
                let received = Received(consumers: pairs)
                try onTasks(group, 2 * pairs) { w in
                    if w < pairs {
                        for k in 0..<perProducer { try await queue.put(w * perProducer + k) }
                    } else {
                        var mine: [Int] = []
                        mine.reserveCapacity(perProducer)
                        for _ in 0..<perProducer { mine.append(try await queue.get()) }
                        received.store(mine, consumer: w - pairs)
                    }
                }
                watch.stop()
                queue.close()
                try received.check(items: perProducer * pairs)
                return nil
            })
            cases.append(MicroCase(group: queue, name: "mutex + condvar queue, \(2 * pairs) threads", isRingLoop: false, operations: perProducer * pairs) { _, watch in
                let queue = BlockingQueue(capacity: capacity)
                let received = Received(consumers: pairs)
                try onThreads(2 * pairs) { w in
                    if w < pairs {
                        for k in 0..<perProducer { queue.put(w * perProducer + k) }
                    } else {
                        var mine: [Int] = []
                        mine.reserveCapacity(perProducer)
                        for _ in 0..<perProducer { mine.append(queue.get()) }
                        received.store(mine, consumer: w - pairs)
                    }
                }
                watch.stop()
                try received.check(items: perProducer * pairs)
                return nil
            })
        }

        return MicroSection(
            id: .sync,
            title: "sync: RingLoop primitives under N tasks on \(group.loops.count) event loops vs "
                + "pthread equivalents under N threads; ops = lock acquisitions, permits taken, items moved",
            notes: ["RingLoop's primitives are fair (FIFO hand-off to the longest waiter); "
                    + "pthread mutexes and sem_t let a running thread barge ahead"],
            rounds: quick ? 2 : 5,
            cases: cases,
            teardown: { try? group.syncShutdownGracefully() })
    }

    /// Runs `body(i)` for i in 0..<n as tasks spread round-robin over the group's loops, all
    /// released together once created; waits for every one. The first error is rethrown.
    static func onTasks(
        _ group: EventLoopGroup, _ n: Int, _ body: @escaping @Sendable (Int) async throws -> Void
    ) throws {
        let loops = group.loops
        try loops[0].makeFutureWithTask {
            let gate = loops[0].makePromise(of: Void.self)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for i in 0..<n {
                    tasks.addTask(executorPreference: loops[i % loops.count]) {
                        try await gate.future.get()
                        try await body(i)
                    }
                }
                gate.succeed()
                try await tasks.waitForAll()
            }
        }.wait()
    }

    /// Runs `body(i)` for i in 0..<n on n threads, released together once created; joins
    /// every one.
    static func onThreads(_ n: Int, _ body: @escaping @Sendable (Int) -> Void) throws {
        let gate = StartGate()
        var threads: [pthread_t] = []
        defer {
            gate.open()
            threads.forEach(PlainThread.join)
        }
        for i in 0..<n {
            threads.append(try PlainThread.spawn {
                gate.wait()
                body(i)
            })
        }
    }
}

/// A plain counter that must only be touched under the lock being measured; it also
/// notices two holders inside at once.
// Safe to share: that is what is under test; a data race shows up as a lost count or an
// overlap, and fails the case.
final class GuardedCounter: @unchecked Sendable {
    private var count = 0
    private var inside = false
    private var overlaps = 0

    func increment() {
        if inside { overlaps += 1 }
        inside = true
        count += 1
        inside = false
    }

    func check(expected: Int) throws {
        guard overlaps == 0 else { throw BenchFailure("two holders inside the lock at once (\(overlaps) times)") }
        guard count == expected else { throw BenchFailure("counter is \(count) after \(expected) locked increments") }
    }
}

/// How many workers hold a permit at once, the most seen, and the total entries.
final class HolderCount: Sendable {
    private let current = Atomic<Int>(0)
    private let most = Atomic<Int>(0)
    private let total = Atomic<Int>(0)

    func enter() {
        let now = current.add(1, ordering: .acquiringAndReleasing).newValue
        _ = most.max(now, ordering: .relaxed)
        total.add(1, ordering: .relaxed)
    }

    func leave() {
        current.subtract(1, ordering: .acquiringAndReleasing)
    }

    func check(expected: Int, limit: Int) throws {
        let most = most.load(ordering: .relaxed)
        let total = total.load(ordering: .relaxed)
        guard most <= limit else { throw BenchFailure("\(most) holders at once with \(limit) permits") }
        guard total == expected else { throw BenchFailure("\(total) permits taken, expected \(expected)") }
    }
}

/// What each consumer received; checked for every item exactly once.
// Safe to share: `slots` is written under `mutex`, and read after every consumer has
// finished (joined threads, or a finished task group).
final class Received: @unchecked Sendable {
    private let mutex = PthreadMutex()
    private var slots: [[Int]]

    init(consumers: Int) { slots = Array(repeating: [], count: consumers) }

    func store(_ items: [Int], consumer: Int) {
        mutex.lock()
        slots[consumer] = items
        mutex.unlock()
    }

    func check(items: Int) throws {
        var seen = [UInt8](repeating: 0, count: items)
        var count = 0
        for slot in slots {
            for item in slot {
                guard item >= 0, item < items else { throw BenchFailure("received item \(item), never put") }
                guard seen[item] == 0 else { throw BenchFailure("item \(item) delivered twice") }
                seen[item] = 1
                count += 1
            }
        }
        guard count == items else { throw BenchFailure("\(count) of \(items) items delivered") }
    }
}
