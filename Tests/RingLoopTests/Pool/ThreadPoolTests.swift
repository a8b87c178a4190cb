import Foundation
import Synchronization
import Testing
@testable import RingLoop

/// A gate pool jobs block on until the test opens it; counts who arrived.
private final class Gate: Sendable {
    private let state = ConditionLock()
    // Safe to share: both are touched only under `state`'s mutex.
    nonisolated(unsafe) private var isOpen = false
    nonisolated(unsafe) private var arrived = 0

    /// Blocks the calling (worker) thread until the gate opens.
    func pass() {
        state.mutate { arrived += 1 }
        state.wait { isOpen }
    }

    func open() { state.mutate { isOpen = true } }

    /// Polls until `count` callers are blocked at (or went through) the gate.
    func waitForArrivals(_ count: Int) -> Bool {
        eventually { state.withLock { arrived >= count } }
    }
}

/// Names of this process's threads whose name starts with `prefix`.
private func threads(named prefix: String) -> [String] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    return tasks.compactMap { tid in
        guard let name = try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8) else { return nil }
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.hasPrefix(prefix) ? trimmed : nil
    }
}

/// The state a test asserts is empty at its end. The outcome of `run` and
/// `parallelMap` work is delivered just before its worker retires it from the
/// running list, so that count may lag the caller by a moment (a future's
/// outcome is handed over after).
private func assertDrained(_ pool: ThreadPool, sourceLocation: SourceLocation = #_sourceLocation) {
    let drained = eventually {
        let counts = pool.queue.counts
        return counts.queued == 0 && counts.waiting == 0 && counts.running == 0
    }
    #expect(drained, "\(pool.queue.counts)", sourceLocation: sourceLocation)
}

@Suite("ThreadPool", .timeLimit(.minutes(1)))
struct ThreadPoolTests {
    // MARK: Results come back where they were asked for

    @Test func submitDeliversValuesAndErrorsOnTheSubmittingLoop() async throws {
        let pool = ThreadPool(threadCount: 2, name: "tp-deliver")
        try await withLoop { loop async throws in
            let outcome = try await loop.submit { () throws -> Future<[Bool]> in
                let caller = EventLoop.current
                let value = try pool.submit { () -> Bool in
                    // On a worker: no loop here.
                    EventLoop.current == nil && PoolWorker.current != nil
                }
                let failure = try pool.submit { () throws -> Int in throw TestError(code: 7) }
                let valueHere = value.map { [$0, loop.inEventLoop, EventLoop.current === caller] }
                let errorHere = failure.flatMapErrorThrowing { error in
                    guard error as? TestError == TestError(code: 7) else { throw error }
                    return loop.inEventLoop ? 1 : 0
                }
                return valueHere.and(errorHere).map { $0.0 + [$0.1 == 1] }
            }.get().get()
            #expect(outcome == [true, true, true, true])

            // From a plain thread, the loop is named explicitly.
            let named = pool.submit(on: loop) { 6 * 7 }.map { ($0, loop.inEventLoop) }
            let (value, onLoop) = try await named.get()
            #expect(value == 42 && onLoop)
        }
        await pool.shutdownGracefully()
        assertDrained(pool)
    }

    @Test func submitOffEveryLoopWithoutNamingOneIsRefused() async throws {
        let pool = ThreadPool(threadCount: 1, name: "tp-noloop")
        #expect(throws: RingLoopError.noEventLoop(operation: "ThreadPool.submit")) {
            _ = try pool.submit { 1 }
        }
        await pool.shutdownGracefully()
    }

    @Test func runResumesTheAwaitingTaskOnItsLoop() async throws {
        let pool = ThreadPool(threadCount: 2, name: "tp-run")
        try await withLoop { loop async throws in
            let (value, onLoopAfter, workerWasOffLoop) = try await loop.run {
                let offLoop = try await pool.run { EventLoop.current == nil }
                let value = try await pool.run { (1...10).reduce(0, +) }
                return (value, loop.inEventLoop, offLoop)
            }
            #expect(value == 55 && onLoopAfter && workerWasOffLoop)

            let error = try await loop.run { () async -> (any Error)? in
                do {
                    _ = try await pool.run { () throws -> Int in throw TestError(code: 3) }
                    return nil
                } catch {
                    return loop.inEventLoop ? error : nil
                }
            }
            #expect(error as? TestError == TestError(code: 3))
        }
        await pool.shutdownGracefully()
        assertDrained(pool)
    }

    // MARK: Volume

    @Test func hundredThousandTinyJobsEachCompleteExactlyOnce() async throws {
        let pool = ThreadPool(threadCount: 4, queueCapacity: 1024, name: "tp-volume")
        let n = 100_000
        let ran = Box([UInt8](repeating: 0, count: n))
        try await withLoop { loop async throws in
            let delivered = try await loop.submit { () throws -> Future<[Int]> in
                // Delivery happens on the loop thread only, so a plain array is safe.
                let completions = Box([UInt8](repeating: 0, count: n))
                let futures = try (0..<n).map { i in
                    try pool.submit(onFull: .wait) { () -> Int in
                        ran.with { $0[i] &+= 1 }
                        return i
                    }.map { value -> Int in
                        completions.with { $0[value] &+= 1 }
                        return value
                    }
                }
                return Future.whenAllSucceed(futures, on: loop).map { values in
                    let exactlyOnce = completions.get.allSatisfy { $0 == 1 }
                    return exactlyOnce ? values : []
                }
            }.get().get()
            #expect(delivered == Array(0..<n))
        }
        #expect(ran.get.allSatisfy { $0 == 1 })

        // The same through async `run`, from many tasks at once.
        let sum = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<10_000 { group.addTask { try await pool.run { i } } }
            return try await group.reduce(0, +)
        }
        #expect(sum == (0..<10_000).reduce(0, +))
        await pool.shutdownGracefully()
        assertDrained(pool)
    }

    @Test func parallelMapReturnsResultsInOrder() async throws {
        let pool = ThreadPool(threadCount: 3, queueCapacity: 4, name: "tp-map")
        let input = Array(0..<100_003)
        let doubled = try await pool.parallelMap(input) { $0 * 2 }
        #expect(doubled == input.map { $0 * 2 })
        let small = try await pool.parallelMap(input[10..<20], chunkSize: 3) { $0 + 1 }
        #expect(small == Array(11..<21))
        let empty = try await pool.parallelMap([Int]()) { $0 }
        #expect(empty.isEmpty)
        // Results that own memory are moved out intact (and, under ASan, not leaked).
        let strings = try await pool.parallelMap(Array(0..<5_000), chunkSize: 64) { "a string longer than inline storage \($0)" }
        #expect(strings == (0..<5_000).map { "a string longer than inline storage \($0)" })
        await pool.shutdownGracefully()
        assertDrained(pool)
    }

    @Test func parallelMapFailsWithTheFirstErrorAndStopsTheOtherChunks() async throws {
        let pool = ThreadPool(threadCount: 2, name: "tp-map-error")
        let visited = Box(0)
        await #expect(throws: TestError(code: 9)) {
            _ = try await pool.parallelMap(Array(0..<10_000), chunkSize: 10) { i -> Int in
                visited.with { $0 += 1 }
                if i == 15 { throw TestError(code: 9) }
                usleep(100)
                return i
            }
        }
        // Chunks stop at the failure instead of running all 10,000 elements;
        // every chunk has finished by the time the error arrives.
        let afterwards = visited.get
        #expect(afterwards < 10_000)
        // Nothing is queued or running any more, so nothing can visit again.
        assertDrained(pool)
        #expect(visited.get == afterwards)

        // Results already written by finished chunks, and the partial results of
        // the failing chunk, are released (ASan/LSan would report a leak).
        await #expect(throws: TestError(code: 4)) {
            _ = try await pool.parallelMap(Array(0..<5_000), chunkSize: 100) { i -> String in
                if i == 4_321 { throw TestError(code: 4) }
                return "a string longer than inline storage \(i)"
            }
        }
        assertDrained(pool)
        await pool.shutdownGracefully()
    }

    @Test func cancellingAParallelMapDropsItsQueuedChunksAndStopsRunningOnes() async throws {
        let pool = ThreadPool(threadCount: 2, queueCapacity: 4, name: "tp-map-cancel")
        let gate = Gate()
        let visited = Box(0)
        let task = Task {
            try await pool.parallelMap(Array(0..<2048), chunkSize: 256) { i -> Int in
                if i == 0 || i == 256 { gate.pass() }  // the first two chunks block until cancelled
                visited.with { $0 += 1 }
                return i
            }
        }
        #expect(gate.waitForArrivals(2))
        #expect(await eventually { pool.queue.counts.queued == 4 && pool.queue.counts.waiting == 2 })
        task.cancel()
        #expect(await eventually { pool.queue.counts.queued == 0 && pool.queue.counts.waiting == 0 })
        gate.open()
        await #expect(throws: CancellationError.self) { try await task.value }
        // The two running chunks stop at their next cancellation check (every
        // 128 elements); the six others never start.
        #expect(visited.get == 2 * 128)
        assertDrained(pool)
        await pool.shutdownGracefully()
    }

    // MARK: Cancellation

    @Test func cancellingQueuedWorkRemovesItAndFailsItWithCancellationError() async throws {
        let pool = ThreadPool(threadCount: 1, name: "tp-cancel-q")
        let gate = Gate()
        let ran = Box(0)
        try await withLoop { loop async throws in
            let blocker = pool.submit(on: loop) { gate.pass() }
            #expect(gate.waitForArrivals(1))

            // A submitted job, cancelled while queued.
            let handle = pool.submitCancellable(on: loop) { ran.with { $0 += 1 } }
            #expect(pool.queue.counts.queued == 1)
            handle.cancel()
            await #expect(throws: CancellationError.self) { try await handle.future.get() }
            #expect(pool.queue.counts.queued == 0)

            // A `run` whose task is cancelled while its work is queued.
            let task = Task { try await pool.run { ran.with { $0 += 1 } } }
            #expect(await eventually { pool.queue.counts.queued == 1 })
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
            #expect(pool.queue.counts.queued == 0)

            // A task cancelled before it even reaches the pool.
            let early = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await pool.run { ran.with { $0 += 1 } }
            }
            await #expect(throws: CancellationError.self) { try await early.value }

            gate.open()
            try await blocker.get()
        }
        await pool.shutdownGracefully()
        #expect(ran.get == 0, "cancelled work never runs")
        assertDrained(pool)
    }

    @Test func cancellingRunningWorkRaisesItsFlagAndWaitsForItsOutcome() async throws {
        let pool = ThreadPool(threadCount: 1, name: "tp-cancel-r")
        let started = Gate()
        let finished = Box(false)
        let task = Task {
            try await pool.run { () throws -> Int in
                started.open()
                var spins = 0
                while !ThreadPool.isCancelled {
                    spins += 1
                    usleep(100)
                }
                finished.with { $0 = true }
                try ThreadPool.checkCancellation()
                return spins
            }
        }
        started.pass()
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(finished.get, "run returns only after its closure has returned")

        // Through a handle: the running job's outcome is what the future gets.
        try await withLoop { loop async throws in
            let running = Gate()
            let handle = pool.submitCancellable(on: loop) { () -> String in
                running.open()
                while !ThreadPool.isCancelled { usleep(100) }
                return "stopped early"
            }
            running.pass()
            handle.cancel()
            #expect(try await handle.future.get() == "stopped early")
        }
        #expect(!ThreadPool.isCancelled, "no flag outside pool work")
        await pool.shutdownGracefully()
        assertDrained(pool)
    }

    @Test func cancellingFinishedWorkChangesNothing() async throws {
        let pool = ThreadPool(threadCount: 1, name: "tp-cancel-f")
        try await withLoop { loop async throws in
            let handle = pool.submitCancellable(on: loop) { 5 }
            #expect(try await handle.future.get() == 5)
            handle.cancel()
            handle.cancel()
            #expect(try await handle.future.get() == 5)

            let task = Task { try await pool.run { 6 } }
            #expect(try await task.value == 6)
            task.cancel()
            #expect(try await task.value == 6)
        }
        await pool.shutdownGracefully()
        assertDrained(pool)
    }

    @Test func cancelStormDeliversEveryOutcomeExactlyOnce() async throws {
        let pool = ThreadPool(threadCount: 3, queueCapacity: 256, name: "tp-storm")
        let n = 20_000
        let ran = Box([UInt8](repeating: 0, count: n))
        try await withLoop { loop async throws in
            let handles = (0..<n).map { i in
                pool.submitCancellable(on: loop) { () -> Int in
                    ran.with { $0[i] &+= 1 }
                    return i
                }
            }
            // Cancel every other job from another thread while workers run
            // (and admit parked ones) concurrently.
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                Thread.detachNewThread {
                    for i in stride(from: 0, to: n, by: 2) { handles[i].cancel() }
                    c.resume()
                }
            }
            let outcomes = try await Future.whenAllComplete(handles.map(\.future), on: loop).get()
            let ranCounts = ran.get
            var consistent = true
            for (i, outcome) in outcomes.enumerated() {
                switch outcome {
                case let .success(value):
                    // Ran once (maybe while being cancelled): the value counts.
                    if value != i || ranCounts[i] != 1 { consistent = false }
                case let .failure(error):
                    // Removed before it ran: never runs.
                    if !(error is CancellationError) || ranCounts[i] != 0 || i % 2 != 0 { consistent = false }
                }
            }
            #expect(consistent)
            #expect(ranCounts.allSatisfy { $0 <= 1 })
        }
        assertDrained(pool)
        await pool.shutdownGracefully()
    }

    // MARK: Backpressure

    @Test func fullQueueFailsFastOrParksWorkInFIFOOrder() async throws {
        let pool = ThreadPool(threadCount: 1, queueCapacity: 2, name: "tp-full")
        let gate = Gate()
        let order = Box<[String]>([])
        try await withLoop { loop async throws in
            let blocker = pool.submit(on: loop) { gate.pass() }
            #expect(gate.waitForArrivals(1))
            let a = pool.submit(on: loop, onFull: .fail) { order.with { $0.append("a") } }
            let b = pool.submit(on: loop, onFull: .fail) { order.with { $0.append("b") } }
            #expect(pool.queue.counts.queued == 2)

            // Full: `.fail` fails at once, on the loop, without touching the queue.
            let refused = pool.submit(on: loop, onFull: .fail) { order.with { $0.append("refused") } }
            await #expect(throws: RingLoopError.queueFull(operation: "ThreadPool.submit", capacity: 2)) {
                try await refused.get()
            }
            // `.wait` and `run` park in the waiter FIFO; nothing blocks.
            let c = pool.submit(on: loop, onFull: .wait) { order.with { $0.append("c") } }
            let d = Task { try await pool.run { order.with { $0.append("d") } } }
            #expect(await eventually { pool.queue.counts.waiting == 2 })
            let e = Task { try await pool.run { order.with { $0.append("e") } } }
            #expect(await eventually { pool.queue.counts.waiting == 3 })
            // A waiter can be cancelled while parked.
            d.cancel()
            await #expect(throws: CancellationError.self) { try await d.value }
            #expect(pool.queue.counts.waiting == 2)
            // The loop stays responsive throughout.
            #expect(try await loop.submit { 1 }.get() == 1)

            gate.open()
            try await blocker.get()
            try await a.get(); try await b.get(); try await c.get(); try await e.value
        }
        #expect(order.get == ["a", "b", "c", "e"])
        await pool.shutdownGracefully()
        assertDrained(pool)
    }

    // MARK: Shutdown

    @Test func gracefulShutdownFinishesRunningQueuedAndParkedWork() async throws {
        let pool = ThreadPool(threadCount: 1, queueCapacity: 1, name: "tp-graceful")
        let gate = Gate()
        let done = Box<[Int]>([])
        try await withLoop { loop async throws in
            let running = pool.submit(on: loop) { gate.pass(); done.with { $0.append(0) } }
            #expect(gate.waitForArrivals(1))
            let queued = pool.submit(on: loop) { done.with { $0.append(1) } }
            let parked = pool.submit(on: loop) { done.with { $0.append(2) } }
            #expect(pool.queue.counts.waiting == 1)

            let shutdown = Task { await pool.shutdownGracefully() }
            #expect(await eventually { !pool.queue.isAccepting })
            // No new work once shutdown has begun…
            await #expect(throws: RingLoopError.shutDown) { try await pool.submit(on: loop) { 3 }.get() }
            await #expect(throws: RingLoopError.shutDown) { try await pool.run { 3 } }
            // …but everything accepted before it runs.
            gate.open()
            await shutdown.value
            try await running.get(); try await queued.get(); try await parked.get()
        }
        #expect(done.get == [0, 1, 2])
        #expect(pool.queue.counts.liveWorkers == 0)
        #expect(threads(named: "tp-graceful").isEmpty)
        assertDrained(pool)
    }

    @Test func cancellingShutdownFailsPendingWorkAndFlagsRunningWork() async throws {
        let pool = ThreadPool(threadCount: 2, queueCapacity: 1, name: "tp-cancelling")
        let started = Gate()
        let ranPending = Box(0)
        try await withLoop { loop async throws in
            let running = (0..<2).map { _ in
                pool.submit(on: loop) { () -> Bool in
                    started.pass()
                    while !ThreadPool.isCancelled { usleep(100) }
                    return true
                }
            }
            started.open()
            #expect(started.waitForArrivals(2))
            let queued = pool.submit(on: loop) { ranPending.with { $0 += 1 } }
            let parked = Task { try await pool.run { ranPending.with { $0 += 1 } } }
            #expect(await eventually { pool.queue.counts.waiting == 1 })

            await pool.shutdown(cancellingPending: true)
            await #expect(throws: RingLoopError.shutDown) { try await queued.get() }
            await #expect(throws: RingLoopError.shutDown) { try await parked.value }
            for future in running { #expect(try await future.get(), "running work saw its flag and finished") }
        }
        #expect(ranPending.get == 0)
        #expect(threads(named: "tp-cancelling").isEmpty)
        assertDrained(pool)
    }

    @Test func shutdownIsIdempotentAndEveryCallerWaitsForTheJoin() async throws {
        let pool = ThreadPool(threadCount: 2, name: "tp-idem")
        let gate = Gate()
        try await withLoop { loop async throws in
            let slow = pool.submit(on: loop) { gate.pass() }
            #expect(gate.waitForArrivals(1))
            let returned = Box(0)
            let callers = (0..<3).map { i in
                Task {
                    if i == 2 { await pool.shutdown(cancellingPending: true) } else { await pool.shutdownGracefully() }
                    // Every caller returns only once no worker is left.
                    if threads(named: "tp-idem").isEmpty { returned.with { $0 += 1 } }
                }
            }
            // A blocking caller on a thread of its own (not a cooperative one).
            let blocking = Task {
                try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                    Thread.detachNewThread {
                        c.resume(with: Result {
                            try pool.syncShutdownGracefully()
                            if threads(named: "tp-idem").isEmpty { returned.with { $0 += 1 } }
                        })
                    }
                }
            }
            // Shutdown has begun and the slow job still holds its worker.
            #expect(await eventually { !pool.queue.isAccepting })
            #expect(pool.queue.counts.running == 1)
            #expect(returned.get == 0, "nobody returns while work still runs")
            gate.open()
            for caller in callers { await caller.value }
            try await blocking.value
            #expect(returned.get == 4)
            try await slow.get()
        }
        // And again, after the fact.
        await pool.shutdownGracefully()
        try pool.syncShutdown(cancellingPending: true)
        assertDrained(pool)
    }

    @Test func noPoolThreadIsLeftAliveAfterShutdown() async throws {
        let pool = ThreadPool(threadCount: 4, name: "tp-threads")
        #expect(await eventually { threads(named: "tp-threads").count == 4 }, "each worker names its thread as it starts")
        _ = try await pool.parallelMap(Array(0..<1000)) { $0 }
        let during = threadCount()
        try pool.syncShutdownGracefully()
        #expect(threads(named: "tp-threads").isEmpty)
        #expect(threadCount() < during)

        // Async shutdown from a task on a loop: joined as well, and the loop
        // keeps running while it waits.
        let other = ThreadPool(threadCount: 3, name: "tp-threads2")
        let gate = Gate()
        try await withLoop { loop async throws in
            let busy = other.submit(on: loop) { gate.pass() }
            #expect(gate.waitForArrivals(1))
            let shutdown = Task(executorPreference: loop) { await other.shutdownGracefully() }
            // The loop is not blocked by the pending shutdown.
            #expect(try await loop.submit { loop.inEventLoop }.get())
            gate.open()
            await shutdown.value
            try await busy.get()
        }
        #expect(threads(named: "tp-threads2").isEmpty)
    }

    @Test func workSubmittedAfterShutdownFailsClearly() async throws {
        let pool = ThreadPool(threadCount: 1, name: "tp-after")
        await pool.shutdownGracefully()
        try await withLoop { loop async throws in
            await #expect(throws: RingLoopError.shutDown) { try await pool.submit(on: loop) { 1 }.get() }
            await #expect(throws: RingLoopError.shutDown) { try await pool.submitCancellable(on: loop) { 1 }.future.get() }
        }
        await #expect(throws: RingLoopError.shutDown) { try await pool.run { 1 } }
        await #expect(throws: RingLoopError.shutDown) { try await pool.parallelMap([1, 2, 3]) { $0 } }
        #expect("\(RingLoopError.shutDown)".contains("shut down"))
    }

    // MARK: Safety rails

    @Test func blockingShutdownIsRefusedOnALoopThreadAndOnTheOwnWorkers() async throws {
        let pool = ThreadPool(threadCount: 1, name: "tp-refuse")
        try await withLoop { loop async throws in
            let onLoop = try await loop.submit { () -> RingLoopError? in
                do throws(RingLoopError) { try pool.syncShutdownGracefully(); return nil } catch { return error }
            }.get()
            #expect(onLoop == .blockingWaitOnEventLoop(operation: "ThreadPool.syncShutdownGracefully"))
            // Refused before doing anything: the pool still works.
            #expect(try await pool.submit(on: loop) { 2 }.get() == 2)
        }
        let onWorker = try await pool.run { () -> RingLoopError? in
            do throws(RingLoopError) { try pool.syncShutdown(cancellingPending: false); return nil } catch { return error }
        }
        #expect(onWorker == .blockingWaitOnPoolWorker(operation: "ThreadPool.syncShutdown"))
        #expect(try await pool.run { 3 } == 3)
        try pool.syncShutdownGracefully()
    }

    @Test func blockingGroupShutdownIsRefusedOnALoopThreadWithoutSideEffects() async throws {
        let group = try EventLoopGroup(numberOfLoops: 2)
        let loop = group.loops[0]
        let refused = try await loop.submit { () -> RingLoopError? in
            do throws(RingLoopError) { try group.syncShutdownGracefully(); return nil } catch { return error }
        }.get()
        #expect(refused == .blockingWaitOnEventLoop(operation: "EventLoopGroup.syncShutdownGracefully"))
        // Nothing was shut down by the refused call.
        #expect(!group.loops[1].isShutDown)
        #expect(try await group.loops[1].submit { 1 }.get() == 1)
        await group.shutdownGracefully()
    }
}
