import Foundation
import RingLoop
import Synchronization

/// Sync primitives against Synchronization.Mutex + continuations, an actor
/// (both in SyncBenchPeers.swift) and, for queues, AsyncStream. Tasks run on
/// the global pool unless the case says "on a loop".
enum SyncBench {
    static func cases() -> [BenchCase] {
        lockCases() + semaphoreCases() + queueCases()
    }

    /// Runs `tasks` concurrent copies of `body(index)` on the global pool.
    static func concurrently(_ tasks: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<tasks { group.addTask { try await body(i) } }
            try await group.waitForAll()
        }
    }

    /// Runs `body(0)` and `body(1)` as two tasks on `CoreBench.loop`.
    static func twoOnLoop(_ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<2 { group.addTask(executorPreference: CoreBench.loop) { try await body(i) } }
            try await group.waitForAll()
        }
    }

    static func lockCases() -> [BenchCase] {
        let uncontended = "sync lock uncontended"
        let handoff = "sync lock hand-off (1 loop)"
        let crowd = "sync lock 100 tasks"
        return [
            BenchCase(group: uncontended, name: "AsyncLock lock+unlock", operations: 1_000_000) { n in
                let lock = AsyncLock()
                for _ in 0..<n { try await lock.lock(); try lock.unlock() }
            },
            BenchCase(group: uncontended, name: "AsyncLock withLock", operations: 1_000_000) { n in
                let lock = AsyncLock()
                for _ in 0..<n { try await lock.withLock {} }
            },
            BenchCase(group: uncontended, name: "Mutex+continuations lock+unlock", operations: 1_000_000) { n in
                let lock = MutexLock()
                for _ in 0..<n { await lock.lock(); lock.unlock() }
            },
            BenchCase(group: uncontended, name: "actor lock+unlock", operations: 1_000_000) { n in
                let lock = ActorLock()
                for _ in 0..<n { await lock.lock(); await lock.unlock() }
            },
            BenchCase(group: uncontended, name: "Mutex.withLock (blocking, floor)", operations: 1_000_000) { n in
                let mutex = Mutex(0)
                for _ in 0..<n { mutex.withLock { $0 &+= 1 } }
            },

            // Two tasks on one loop looping lock/unlock, both queued behind
            // the lock before it is first released. On one thread with FIFO
            // hand-off they strictly alternate (as long as an `await` that
            // does not suspend keeps running instead of re-enqueueing the task:
            // see how EventLoop.runJob runs task jobs): every operation hands
            // the lock to a suspended task and suspends the releaser. On the
            // pool, two threads mostly find the lock free: no hand-off to time.
            BenchCase(group: handoff, name: "AsyncLock", operations: 100_000) { n in
                let lock = AsyncLock()
                try await lock.lock()
                let tasks = (0..<2).map { _ in
                    Task(executorPreference: CoreBench.loop) {
                        for _ in 0..<(n / 2) { try await lock.lock(); try lock.unlock() }
                    }
                }
                while lock.waiterCount < 2 { await Task.yield() }
                try lock.unlock()
                for task in tasks { try await task.value }
            },
            BenchCase(group: handoff, name: "Mutex+continuations", operations: 100_000) { n in
                let lock = MutexLock()
                await lock.lock()
                let tasks = (0..<2).map { _ in
                    Task(executorPreference: CoreBench.loop) { for _ in 0..<(n / 2) { await lock.lock(); lock.unlock() } }
                }
                while lock.waiting < 2 { await Task.yield() }
                lock.unlock()
                for task in tasks { await task.value }
            },
            BenchCase(group: handoff, name: "Mutex+continuations+cancel handler", operations: 100_000) { n in
                let lock = CancellableMutexLock()
                try await lock.lock()
                let tasks = (0..<2).map { _ in
                    Task(executorPreference: CoreBench.loop) {
                        for _ in 0..<(n / 2) { try await lock.lock(); lock.unlock() }
                    }
                }
                while lock.waiting < 2 { await Task.yield() }
                lock.unlock()
                for task in tasks { try await task.value }
            },
            BenchCase(group: handoff, name: "actor (tasks on the loop)", operations: 100_000) { n in
                let lock = ActorLock()
                await lock.lock()
                let tasks = (0..<2).map { _ in
                    Task(executorPreference: CoreBench.loop) { for _ in 0..<(n / 2) { await lock.lock(); await lock.unlock() } }
                }
                while await lock.waiting < 2 { await Task.yield() }
                await lock.unlock()
                for task in tasks { await task.value }
            },

            BenchCase(group: crowd, name: "AsyncLock", operations: 200_000) { n in
                let lock = AsyncLock()
                try await concurrently(100) { _ in for _ in 0..<(n / 100) { try await lock.lock(); try lock.unlock() } }
            },
            BenchCase(group: crowd, name: "Mutex+continuations", operations: 200_000) { n in
                let lock = MutexLock()
                try await concurrently(100) { _ in for _ in 0..<(n / 100) { await lock.lock(); lock.unlock() } }
            },
            BenchCase(group: crowd, name: "actor", operations: 200_000) { n in
                let lock = ActorLock()
                try await concurrently(100) { _ in for _ in 0..<(n / 100) { await lock.lock(); await lock.unlock() } }
            },
        ]
    }

    /// `pairs` producers release and `pairs` consumers acquire `n` permits in
    /// all; and a ping-pong where every acquire waits (two hand-offs a round).
    static func semaphoreCases() -> [BenchCase] {
        // Two tasks on one loop: A releases `ping` and waits on `pong`, B the
        // reverse, so every acquire suspends and every release resumes.
        let pingPong = "sync semaphore ping-pong (1 loop)"
        return [
            BenchCase(group: pingPong, name: "AsyncSemaphore", operations: 100_000) { n in
                let ping = AsyncSemaphore(value: 0)
                let pong = AsyncSemaphore(value: 0)
                try await twoOnLoop { i in
                    for _ in 0..<(n / 2) {
                        if i == 0 { ping.release(); try await pong.acquire() } else { try await ping.acquire(); pong.release() }
                    }
                }
            },
            BenchCase(group: pingPong, name: "Mutex+continuations", operations: 100_000) { n in
                let ping = MutexSemaphore(value: 0)
                let pong = MutexSemaphore(value: 0)
                try await twoOnLoop { i in
                    for _ in 0..<(n / 2) {
                        if i == 0 { ping.release(); await pong.acquire() } else { await ping.acquire(); pong.release() }
                    }
                }
            },
            BenchCase(group: pingPong, name: "Mutex+continuations+cancel handler", operations: 100_000) { n in
                let ping = CancellableMutexSemaphore(value: 0)
                let pong = CancellableMutexSemaphore(value: 0)
                try await twoOnLoop { i in
                    for _ in 0..<(n / 2) {
                        if i == 0 { ping.release(); try await pong.acquire() } else { try await ping.acquire(); pong.release() }
                    }
                }
            },
            BenchCase(group: pingPong, name: "actor (tasks on the loop)", operations: 100_000) { n in
                let ping = ActorSemaphore(value: 0)
                let pong = ActorSemaphore(value: 0)
                try await twoOnLoop { i in
                    for _ in 0..<(n / 2) {
                        if i == 0 { await ping.release(); await pong.acquire() } else { await ping.acquire(); await pong.release() }
                    }
                }
            },
        ] + [1, 100].flatMap { pairs -> [BenchCase] in
            let group = "sync semaphore \(pairs)P/\(pairs)C"
            return [
                BenchCase(group: group, name: "AsyncSemaphore", operations: 200_000) { n in
                    let semaphore = AsyncSemaphore(value: 0)
                    try await concurrently(2 * pairs) { i in
                        if i < pairs {
                            for _ in 0..<(n / pairs) { semaphore.release() }
                        } else {
                            for _ in 0..<(n / pairs) { try await semaphore.acquire() }
                        }
                    }
                },
                BenchCase(group: group, name: "Mutex+continuations", operations: 200_000) { n in
                    let semaphore = MutexSemaphore(value: 0)
                    try await concurrently(2 * pairs) { i in
                        if i < pairs {
                            for _ in 0..<(n / pairs) { semaphore.release() }
                        } else {
                            for _ in 0..<(n / pairs) { await semaphore.acquire() }
                        }
                    }
                },
                BenchCase(group: group, name: "actor", operations: 200_000) { n in
                    let semaphore = ActorSemaphore(value: 0)
                    try await concurrently(2 * pairs) { i in
                        if i < pairs {
                            for _ in 0..<(n / pairs) { await semaphore.release() }
                        } else {
                            for _ in 0..<(n / pairs) { await semaphore.acquire() }
                        }
                    }
                },
            ]
        }
    }

    /// `pairs` producers put and `pairs` consumers get `n` items in all; the
    /// consumers check the count.
    static func queueCases() -> [BenchCase] {
        [1, 100].flatMap { pairs -> [BenchCase] in
            let group = "sync queue \(pairs)P/\(pairs)C"
            var cases = [
                BenchCase(group: group, name: "AsyncQueue unbounded (tryPut)", operations: 200_000) { n in
                    let queue = AsyncQueue<Int>()
                    try await concurrently(2 * pairs) { i in
                        if i < pairs {
                            for k in 0..<(n / pairs) { try queue.tryPut(k) }
                        } else {
                            var sum = 0
                            for _ in 0..<(n / pairs) { sum &+= try await queue.get() }
                            blackHole(sum)
                        }
                    }
                },
                BenchCase(group: group, name: "AsyncQueue bounded 1024 (put)", operations: 200_000) { n in
                    let queue = AsyncQueue<Int>(capacity: 1024)
                    try await concurrently(2 * pairs) { i in
                        if i < pairs {
                            for k in 0..<(n / pairs) { try await queue.put(k) }
                        } else {
                            var sum = 0
                            for _ in 0..<(n / pairs) { sum &+= try await queue.get() }
                            blackHole(sum)
                        }
                    }
                },
                BenchCase(group: group, name: "Mutex+continuations", operations: 200_000) { n in
                    let queue = MutexQueue<Int>()
                    try await concurrently(2 * pairs) { i in
                        if i < pairs {
                            for k in 0..<(n / pairs) { queue.put(k) }
                        } else {
                            var sum = 0
                            for _ in 0..<(n / pairs) { sum &+= await queue.get() }
                            blackHole(sum)
                        }
                    }
                },
                BenchCase(group: group, name: "actor", operations: 200_000) { n in
                    let queue = ActorQueue<Int>()
                    try await concurrently(2 * pairs) { i in
                        if i < pairs {
                            for k in 0..<(n / pairs) { await queue.put(k) }
                        } else {
                            var sum = 0
                            for _ in 0..<(n / pairs) { sum &+= await queue.get() }
                            blackHole(sum)
                        }
                    }
                },
            ]
            // AsyncStream allows one consumer only: with 100 producers it is
            // measured 100P/1C.
            cases.append(BenchCase(group: group, name: pairs == 1 ? "AsyncStream" : "AsyncStream (100P/1C)", operations: 200_000) { n in
                let (stream, continuation) = AsyncStream<Int>.makeStream()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<pairs {
                        group.addTask { for k in 0..<(n / pairs) { continuation.yield(k) } }
                    }
                    group.addTask {
                        var count = 0
                        for await _ in stream {
                            count += 1
                            if count == n { break }
                        }
                    }
                    try await group.waitForAll()
                }
                continuation.finish()
            })
            return cases
        }
    }
}
