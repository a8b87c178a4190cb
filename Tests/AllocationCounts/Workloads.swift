import CAllocCounter
import Dispatch
import RingLoop

/// The operations whose allocations are counted. Each runs on one event loop
/// (in a task pinned to it, or as the server of a blocking client).
enum Workloads {
    static func measureAll(iterations: Int) throws -> [(String, Int)] {
        let loop = try EventLoop.spawn()
        defer { try? loop.syncShutdownGracefully() }
        var results: [(String, Int)] = []
        results.append(("echo_handler", try echo(iterations: iterations, on: loop, inbound: false)))
        results.append(("echo_inbound", try echo(iterations: iterations, on: loop, inbound: true)))
        results.append(("execute", try onLoop(loop) { try await execute(iterations: iterations, on: loop) }))
        results.append(("future_map", try onLoop(loop) { try await futureMap(iterations: iterations, on: loop) }))
        results.append(("timer_schedule_fire", try onLoop(loop) { try await timers(iterations: iterations, on: loop) }))
        results.append(("timer_execute_fire", try onLoop(loop) { try await fireAndForgetTimers(iterations: iterations, on: loop) }))
        results.append(("lock_unlock", try onLoop(loop) { try await lockUnlock(iterations: iterations) }))
        results.append(("lock_handoff", try onLoop(loop) { try await lockHandOff(iterations: iterations, on: loop) }))
        results.append(("queue_put_get", try onLoop(loop) { try await queuePutGet(iterations: iterations) }))
        let pool = ThreadPool(threadCount: 2, name: "alloc-pool")
        defer { try? pool.syncShutdownGracefully() }
        results.append(("pool_submit", try onLoop(loop) { try await poolSubmit(iterations: iterations, pool: pool, on: loop) }))
        results.append(("pool_run", try onLoop(loop) { try await poolRun(iterations: iterations, pool: pool) }))
        return results
    }

    /// Runs `body` twice (warm-up, then counted) and returns the counted
    /// run's allocations.
    private static func counted(_ body: () async throws -> Void) async rethrows -> Int {
        try await body()
        ringloop_reset_allocation_counts()
        try await body()
        return ringloop_allocations()
    }

    private static func countedBlocking(_ body: () throws -> Void) rethrows -> Int {
        try body()
        ringloop_reset_allocation_counts()
        try body()
        return ringloop_allocations()
    }

    /// Runs `body` as a task pinned to `loop` and blocks this (non-loop)
    /// thread until it returns.
    private static func onLoop(_ loop: EventLoop, _ body: @escaping @Sendable () async throws -> Int) throws -> Int {
        let done = DispatchSemaphore(value: 0)
        let outcome = LockedValue<Result<Int, any Error>?>(nil)
        Task(executorPreference: loop) {
            let result: Result<Int, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            outcome.withLockedValue { $0 = result }
            done.signal()
        }
        done.wait()
        return try outcome.withLockedValue { $0! }.get()
    }

    // MARK: Echo

    /// Echoes 64-byte messages from a blocking client on this thread to a
    /// server on `loop`: with a `TCPConnectionHandler` calling
    /// `write(copying:)`, or with a task reading `connection.inbound` and
    /// writing each chunk back. Returns the allocations of `iterations`
    /// round trips.
    private static func echo(iterations: Int, on loop: EventLoop, inbound: Bool) throws -> Int {
        let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
        let accepted = LockedValue<TCPConnection?>(nil)
        listener.start { connection in
            accepted.withLockedValue { $0 = connection }
            if inbound {
                Task(executorPreference: loop) {
                    do {
                        for try await chunk in connection.inbound { try await connection.write(chunk) }
                    } catch {}
                    await connection.close()
                }
            } else {
                connection.setHandler(HandlerEcho())
            }
        }
        defer {
            let done = DispatchSemaphore(value: 0)
            loop.execute {
                listener.close().whenComplete { _ in done.signal() }
            }
            done.wait()
        }
        guard let port = listener.localAddress.port else { throw AllocationCountError.broken("listener has no port") }
        let client = try BlockingEchoClient(port: UInt16(port), messageSize: 64)
        var broken = false
        let total = countedBlocking {
            for _ in 0..<iterations where !broken { broken = !client.roundTrip() }
        }
        if broken { throw AllocationCountError.broken("echo connection broke") }
        if let connection = accepted.withLockedValue({ $0 }) {
            let done = DispatchSemaphore(value: 0)
            connection.close().whenComplete { _ in done.signal() }
            done.wait()
        }
        return total
    }

    // MARK: Loop, futures, timers

    /// `loop.execute { }` from the loop itself, in batches of 100 followed by
    /// one `submit` that waits for them (1% of the operations).
    private static func execute(iterations: Int, on loop: EventLoop) async throws -> Int {
        let counter = LoopCounter()
        return try await counted {
            for batch in stride(from: 0, to: iterations, by: 100) {
                for _ in batch..<min(batch + 100, iterations) { loop.execute { counter.value &+= 1 } }
                try await loop.submit {}.get()
            }
        }
    }

    /// A promise, a `map` of its future, and completing the promise.
    private static func futureMap(iterations: Int, on loop: EventLoop) async throws -> Int {
        let counter = LoopCounter()
        return await counted {
            for i in 0..<iterations {
                let promise = loop.makePromise(of: Int.self)
                promise.future.map { $0 &+ 1 }.whenSuccess { counter.value &+= $0 }
                promise.succeed(i)
            }
        }
    }

    /// `schedule(after: .zero)` and its firing, in batches of 100 whose last
    /// future is awaited.
    private static func timers(iterations: Int, on loop: EventLoop) async throws -> Int {
        let counter = LoopCounter()
        return try await counted {
            for batch in stride(from: 0, to: iterations, by: 100) {
                var last: Scheduled<Void>?
                for _ in batch..<min(batch + 100, iterations) { last = loop.schedule(after: .zero) { counter.value &+= 1 } }
                try await last?.future.get()
            }
        }
    }

    /// Fire-and-forget timers (`execute(after:)`), in batches of 100 whose
    /// last one completes a promise to wait on.
    private static func fireAndForgetTimers(iterations: Int, on loop: EventLoop) async throws -> Int {
        let counter = LoopCounter()
        return try await counted {
            for batch in stride(from: 0, to: iterations, by: 100) {
                let end = min(batch + 100, iterations)
                for _ in batch..<end - 1 { loop.execute(after: .zero) { counter.value &+= 1 } }
                let promise = loop.makePromise(of: Void.self)
                loop.execute(after: .zero) { promise.succeed() }
                try await promise.future.get()
            }
        }
    }

    // MARK: Sync primitives

    /// An uncontended `AsyncLock` lock and unlock in a task.
    private static func lockUnlock(iterations: Int) async throws -> Int {
        let lock = AsyncLock()
        return try await counted {
            for _ in 0..<iterations {
                try await lock.lock()
                try lock.unlock()
            }
        }
    }

    /// Two tasks on the loop taking an `AsyncLock` in turn, so that every
    /// `lock()` waits and every `unlock()` hands the lock over (the micro
    /// benchmark's hand-off); one operation is one hand-off.
    private static func lockHandOff(iterations: Int, on loop: EventLoop) async throws -> Int {
        let lock = AsyncLock()
        return try await counted {
            try await lock.lock()
            let tasks = (0..<2).map { _ in
                Task(executorPreference: loop) {
                    for _ in 0..<(iterations / 2) {
                        try await lock.lock()
                        try lock.unlock()
                    }
                }
            }
            while lock.waiterCount < 2 { await Task.yield() }
            try lock.unlock()
            for task in tasks { try await task.value }
        }
    }

    // MARK: Thread pool

    /// `pool.submit(on: loop) { i }.whenSuccess { … }` from the loop, in
    /// batches of 100 whose last future is awaited.
    private static func poolSubmit(iterations: Int, pool: ThreadPool, on loop: EventLoop) async throws -> Int {
        let counter = LoopCounter()
        return try await counted {
            for batch in stride(from: 0, to: iterations, by: 100) {
                var last: Future<Int>?
                for i in batch..<min(batch + 100, iterations) {
                    let future = pool.submit(on: loop) { i }
                    future.whenSuccess { counter.value &+= $0 }
                    last = future
                }
                _ = try await last?.get()
            }
        }
    }

    /// `try await pool.run { i }` from a task on the loop, one at a time.
    private static func poolRun(iterations: Int, pool: ThreadPool) async throws -> Int {
        let counter = LoopCounter()
        return try await counted {
            for i in 0..<iterations { counter.value &+= try await pool.run { i } }
        }
    }

    /// `put` then `get` on a bounded FIFO `AsyncQueue` in a task.
    private static func queuePutGet(iterations: Int) async throws -> Int {
        let queue = AsyncQueue<Int>(capacity: 16)
        return try await counted {
            for i in 0..<iterations {
                try await queue.put(i)
                _ = try await queue.get()
            }
        }
    }
}

/// The echo handler under test: the one the handler-path documentation and
/// the echo-server example use.
final class HandlerEcho: TCPConnectionHandler {
    func connection(_ connection: TCPConnection, didRead bytes: UnsafeRawBufferPointer) {
        connection.write(copying: bytes)
    }
}

/// A counter bumped by the measured closures, so they do real work.
// Safe to share: `value` is touched only on the one loop thread.
final class LoopCounter: @unchecked Sendable {
    var value = 0
}
