import Dispatch
import Foundation
import RingLoop

/// Thread pool: tiny-job throughput, batch splitting and round-trip latency
/// (submitted on a loop, result back on that loop), against a thread per job
/// and Dispatch (`DispatchQueue.global().async`, `concurrentPerform`).
enum PoolBench {
    static let pool = ThreadPool(name: "bench-pool")
    static var loop: EventLoop { CoreBench.loop }

    /// The tiny job: a few arithmetic operations, kept from being optimised away.
    @inline(never)
    static func tinyJob(_ i: Int) -> Int { i &* 2_654_435_761 &+ 17 }

    /// A job of about a hundred nanoseconds: a dependent xorshift-multiply
    /// chain the optimiser cannot fold.
    @inline(never)
    static func mediumJob(_ i: Int) -> Int {
        var x = UInt64(truncatingIfNeeded: i) | 1
        for _ in 0..<64 {
            x ^= x >> 29
            x = x &* 0xBF58_476D_1CE4_E5B9
        }
        return Int(truncatingIfNeeded: x)
    }

    static func cases() -> [BenchCase] {
        let jobs = 200_000
        let threadJobs = 5_000
        let trips = 20_000
        let batch = 2_000_000
        return [
            // Throughput: N independent tiny jobs submitted from the loop, each
            // result handed back to the loop, done when the last has arrived.
            BenchCase(group: "pool: tiny jobs", name: "ThreadPool.submit (result on loop)", operations: jobs) { n in
                try await loop.submit { () -> Future<Void> in
                    let remaining = LoopCounter(n)
                    let done = loop.makePromise(of: Void.self)
                    for i in 0..<n {
                        pool.submit(on: loop) { tinyJob(i) }.whenSuccess { _ in
                            if remaining.decrement() { done.succeed() }
                        }
                    }
                    return done.future
                }.get().get()
            },
            BenchCase(group: "pool: tiny jobs", name: "DispatchQueue.global().async + Promise", operations: jobs) { n in
                try await loop.submit { () -> Future<Void> in
                    let remaining = LoopCounter(n)
                    let done = loop.makePromise(of: Void.self)
                    for i in 0..<n {
                        let promise = loop.makePromise(of: Int.self)
                        DispatchQueue.global().async { promise.succeed(tinyJob(i)) }
                        promise.future.whenSuccess { _ in
                            if remaining.decrement() { done.succeed() }
                        }
                    }
                    return done.future
                }.get().get()
            },
            BenchCase(group: "pool: tiny jobs", name: "DispatchQueue.global().async + execute", operations: jobs) { n in
                try await loop.submit { () -> Future<Void> in
                    let remaining = LoopCounter(n)
                    let done = loop.makePromise(of: Void.self)
                    for i in 0..<n {
                        DispatchQueue.global().async {
                            let value = tinyJob(i)
                            loop.execute {
                                blackHole(value)
                                if remaining.decrement() { done.succeed() }
                            }
                        }
                    }
                    return done.future
                }.get().get()
            },
            BenchCase(group: "pool: tiny jobs", name: "thread per job (result on loop)", operations: threadJobs) { n in
                let threads = try await loop.submit { () -> Future<[pthread_t]> in
                    let remaining = LoopCounter(n)
                    let done = loop.makePromise(of: Void.self)
                    // Spawned from the loop, joined off it once all have reported.
                    let threads = (0..<n).map { i in
                        Threads.spawn(name: "bench-thread") {
                            let value = tinyJob(i)
                            loop.execute {
                                blackHole(value)
                                if remaining.decrement() { done.succeed() }
                            }
                        }
                    }
                    return done.future.map { threads }
                }.get().get()
                for thread in threads { Threads.join(thread) }
            },
            BenchCase(group: "pool: tiny jobs", name: "ThreadPool.run from tasks", operations: jobs) { n in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    let perTask = n / 100
                    for t in 0..<100 {
                        group.addTask {
                            for i in 0..<perTask { blackHole(try await pool.run { tinyJob(t &* perTask &+ i) }) }
                        }
                    }
                    try await group.waitForAll()
                }
            },

            // Batch: one large job split into chunks.
            BenchCase(group: "pool: batch of tiny items", name: "ThreadPool.parallelMap", operations: batch) { n in
                let items = 0..<n
                let out = try await pool.parallelMap(items) { tinyJob($0) }
                blackHole(out)
            },
            // The same, with a transform that captures nothing (the one above
            // captures the enum's metatype, as `tinyJob` means `Self.tinyJob`):
            // the pool can then specialize its per-element loop for it.
            BenchCase(group: "pool: batch of tiny items", name: "ThreadPool.parallelMap, captureless transform", operations: batch) { n in
                let out = try await pool.parallelMap(0..<n) { PoolBench.tinyJob($0) }
                blackHole(out)
            },
            BenchCase(group: "pool: batch of tiny items", name: "DispatchQueue.concurrentPerform", operations: batch) { n in
                let chunks = System.coreCount * 4
                let size = (n + chunks - 1) / chunks
                var out = [Int](repeating: 0, count: n)
                out.withUnsafeMutableBufferPointer { buffer in
                    // Safe: every chunk writes a disjoint range of the buffer.
                    nonisolated(unsafe) let target = buffer
                    DispatchQueue.concurrentPerform(iterations: chunks) { c in
                        for i in (c * size)..<min(n, (c + 1) * size) { target[i] = tinyJob(i) }
                    }
                }
                blackHole(out)
            },
            BenchCase(group: "pool: batch of tiny items", name: "one thread, serial (reference)", operations: batch) { n in
                blackHole((0..<n).map { tinyJob($0) })
            },

            BenchCase(group: "pool: batch of ~100ns items", name: "ThreadPool.parallelMap", operations: batch / 10) { n in
                blackHole(try await pool.parallelMap(0..<n) { mediumJob($0) })
            },
            BenchCase(group: "pool: batch of ~100ns items", name: "DispatchQueue.concurrentPerform", operations: batch / 10) { n in
                let chunks = System.coreCount * 4
                let size = (n + chunks - 1) / chunks
                var out = [Int](repeating: 0, count: n)
                out.withUnsafeMutableBufferPointer { buffer in
                    // Safe: every chunk writes a disjoint range of the buffer.
                    nonisolated(unsafe) let target = buffer
                    DispatchQueue.concurrentPerform(iterations: chunks) { c in
                        for i in (c * size)..<min(n, (c + 1) * size) { target[i] = mediumJob(i) }
                    }
                }
                blackHole(out)
            },
            BenchCase(group: "pool: batch of ~100ns items", name: "one thread, serial (reference)", operations: batch / 10) { n in
                blackHole((0..<n).map { mediumJob($0) })
            },

            // Latency: one job at a time, submitted on the loop, the next one
            // submitted when the result is back on the loop.
            BenchCase(group: "pool: round trip loop->pool->loop", name: "ThreadPool.submit", operations: trips) { n in
                try await loop.submit { () -> Future<Void> in
                    let done = loop.makePromise(of: Void.self)
                    roundTrip(n, done: done) { i, back in
                        pool.submit(on: loop) { tinyJob(i) }.whenSuccess { back($0) }
                    }
                    return done.future
                }.get().get()
            },
            BenchCase(group: "pool: round trip loop->pool->loop", name: "DispatchQueue.global().async + Promise", operations: trips) { n in
                try await loop.submit { () -> Future<Void> in
                    let done = loop.makePromise(of: Void.self)
                    roundTrip(n, done: done) { i, back in
                        let promise = loop.makePromise(of: Int.self)
                        DispatchQueue.global().async { promise.succeed(tinyJob(i)) }
                        promise.future.whenSuccess { back($0) }
                    }
                    return done.future
                }.get().get()
            },
            BenchCase(group: "pool: round trip loop->pool->loop", name: "DispatchQueue.global().async + execute", operations: trips) { n in
                try await loop.submit { () -> Future<Void> in
                    let done = loop.makePromise(of: Void.self)
                    roundTrip(n, done: done) { i, back in
                        DispatchQueue.global().async {
                            let value = tinyJob(i)
                            loop.execute { back(value) }
                        }
                    }
                    return done.future
                }.get().get()
            },
            BenchCase(group: "pool: round trip loop->pool->loop", name: "thread per job", operations: threadJobs) { n in
                try await loop.submit { () -> Future<Void> in
                    let done = loop.makePromise(of: Void.self)
                    roundTrip(n, done: done) { i, back in
                        let thread = Threads.spawn(name: "bench-thread") {
                            let value = tinyJob(i)
                            loop.execute { back(value) }
                        }
                        Threads.detach(thread)
                    }
                    return done.future
                }.get().get()
            },
            BenchCase(group: "pool: round trip loop->pool->loop", name: "ThreadPool.run from a task on the loop", operations: trips) { n in
                try await loop.run {
                    for i in 0..<n { blackHole(try await pool.run { tinyJob(i) }) }
                }
            },
            BenchCase(group: "pool: round trip loop->pool->loop", name: "DispatchQueue.global().async + continuation, task on the loop", operations: trips) { n in
                try await loop.run {
                    for i in 0..<n {
                        blackHole(await withUnsafeContinuation { (continuation: UnsafeContinuation<Int, Never>) in
                            DispatchQueue.global().async { continuation.resume(returning: tinyJob(i)) }
                        })
                    }
                }
            },
        ]
    }

    /// Runs `n` jobs one after another on the loop: `start(i, back)` launches
    /// job `i`, and `back` (called on the loop) launches the next.
    static func roundTrip(
        _ n: Int, done: Promise<Void>,
        _ start: @escaping @Sendable (Int, @escaping @Sendable (Int) -> Void) -> Void
    ) {
        let step = Step()
        step.next = { value in
            blackHole(value)
            step.index += 1
            if step.index == n {
                step.next = nil
                done.succeed()
            } else {
                start(step.index, { step.next?($0) })
            }
        }
        start(0, { step.next?($0) })
    }
}

/// State of a sequential round-trip chain.
// Safe to share: touched only on the benchmark loop's thread.
private final class Step: @unchecked Sendable {
    var index = 0
    var next: ((Int) -> Void)?
}

/// A countdown touched only on one loop's thread (no lock needed).
// Safe to share: every call happens on the same loop thread.
final class LoopCounter: @unchecked Sendable {
    private var value: Int
    init(_ value: Int) { self.value = value }
    /// Returns true when it reaches zero.
    func decrement() -> Bool {
        value -= 1
        return value == 0
    }
}
