#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch
import RingLoop

/// CPU offload from an event loop: RingLoop's ThreadPool against a thread per job, Dispatch's
/// global queue and (from async code) a detached task. Every case checks that each job ran
/// exactly once with the right result.
enum OffloadSection {
    /// The tiny job: a few arithmetic operations the optimizer cannot fold away.
    @inline(never)
    static func tinyJob(_ i: Int) -> Int { i &* 2_654_435_761 &+ 17 }

    /// The sum of `tinyJob(0..<n)`, for the checks.
    static func expectedSum(_ n: Int) -> Int {
        var sum = 0
        for i in 0..<n { sum &+= tinyJob(i) }
        return sum
    }

    static func make(quick: Bool) throws -> MicroSection {
        let loop = try EventLoop.spawn()
        let pool = ThreadPool(name: "bench-pool")
        let cores = System.coreCount
        let jobs = quick ? 40_000 : 200_000
        let threadJobs = quick ? 2_000 : 5_000
        let batch = quick ? 500_000 : 4_000_000
        let trips = quick ? 4_000 : 20_000
        let threadTrips = quick ? 1_000 : 4_000

        var cases: [MicroCase] = []

        // Throughput: n independent jobs launched from the loop, each result handed back to
        // the loop; done when the last one is back.
        let tiny = "tiny jobs from the loop, results back on it"
        cases.append(MicroCase(group: tiny, name: "ThreadPool.submit(on:)", isRingLoop: true, operations: jobs) { n, watch in
            let sum = try onLoop(loop, n) { i, tally in
                pool.submit(on: loop) { tinyJob(i) }.whenComplete { tally.record($0) }
            }
            watch.stop()
            try check(sum: sum, n: n)
            return nil
        })
        cases.append(MicroCase(group: tiny, name: "thread per job + loop.execute", isRingLoop: false, operations: threadJobs) { n, watch in
            let sum = try onLoop(loop, n) { i, tally in
                do {
                    try PlainThread.spawn(detached: true) {
                        let value = tinyJob(i)
                        loop.execute { tally.record(.success(value)) }
                    }
                } catch {
                    tally.record(.failure(error))
                }
            }
            watch.stop()
            try check(sum: sum, n: n)
            return nil
        })
        cases.append(MicroCase(group: tiny, name: "DispatchQueue.global().async + loop.execute", isRingLoop: false, operations: jobs) { n, watch in
            let sum = try onLoop(loop, n) { i, tally in
                DispatchQueue.global().async {
                    let value = tinyJob(i)
                    loop.execute { tally.record(.success(value)) }
                }
            }
            watch.stop()
            try check(sum: sum, n: n)
            return nil
        })

        // Throughput: one large batch of tiny items split over the cores.
        let split = "batch of tiny items split over \(cores) cores"
        cases.append(MicroCase(group: split, name: "ThreadPool.parallelMap", isRingLoop: true, operations: batch) { n, watch in
            let out = try loop.makeFutureWithTask { try await pool.parallelMap(0..<n) { tinyJob($0) } }.wait()
            watch.stop()
            try checkBatch(out, n: n)
            return nil
        })
        // The same transform spelled without captures (`tinyJob` above
        // implicitly captures the enum's metatype): the pool can then inline
        // it into its per-element loop.
        cases.append(MicroCase(group: split, name: "ThreadPool.parallelMap, transform without captures", isRingLoop: true, operations: batch) { n, watch in
            let out = try loop.makeFutureWithTask { try await pool.parallelMap(0..<n) { OffloadSection.tinyJob($0) } }.wait()
            watch.stop()
            try checkBatch(out, n: n)
            return nil
        })
        cases.append(MicroCase(group: split, name: "DispatchQueue.concurrentPerform", isRingLoop: false, operations: batch) { n, watch in
            let out = chunked(n, chunks: cores * 4) { chunks, body in
                DispatchQueue.concurrentPerform(iterations: chunks, execute: body)
            }
            watch.stop()
            try checkBatch(out, n: n)
            return nil
        })
        cases.append(MicroCase(group: split, name: "a thread per core, joined", isRingLoop: false, operations: batch) { n, watch in
            var failure: (any Error)?
            let out = chunked(n, chunks: cores) { chunks, body in
                var threads: [pthread_t] = []
                for c in 0..<chunks {
                    do { threads.append(try PlainThread.spawn { body(c) }) } catch { failure = error }
                }
                threads.forEach(PlainThread.join)
            }
            watch.stop()
            if let failure { throw failure }
            try checkBatch(out, n: n)
            return nil
        })

        // Latency: one job at a time from the loop; the next leaves when the result is back.
        let trip = "round trip loop -> worker -> loop, one at a time"
        cases.append(MicroCase(group: trip, name: "ThreadPool.submit(on:)", isRingLoop: true, operations: trips) { n, watch in
            try roundTrips(loop, n, watch) { i, back in
                pool.submit(on: loop) { tinyJob(i) }.whenComplete { back($0) }
            }
        })
        cases.append(MicroCase(group: trip, name: "thread per job + loop.execute", isRingLoop: false, operations: threadTrips) { n, watch in
            try roundTrips(loop, n, watch) { i, back in
                do {
                    try PlainThread.spawn(detached: true) {
                        let value = tinyJob(i)
                        loop.execute { back(.success(value)) }
                    }
                } catch {
                    back(.failure(error))
                }
            }
        })
        cases.append(MicroCase(group: trip, name: "DispatchQueue.global().async + loop.execute", isRingLoop: false, operations: trips) { n, watch in
            try roundTrips(loop, n, watch) { i, back in
                DispatchQueue.global().async {
                    let value = tinyJob(i)
                    loop.execute { back(.success(value)) }
                }
            }
        })

        // Latency from async code: a task on the loop awaits each job in turn.
        let awaited = "await a job from a task on the loop, one at a time"
        cases.append(MicroCase(group: awaited, name: "ThreadPool.run", isRingLoop: true, operations: trips) { n, watch in
            try awaitTrips(loop, n, watch) { i in try await pool.run { tinyJob(i) } }
        })
        cases.append(MicroCase(group: awaited, name: "thread per job + continuation", isRingLoop: false, operations: threadTrips) { n, watch in
            try awaitTrips(loop, n, watch) { i in
                try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Int, any Error>) in
                    do {
                        try PlainThread.spawn(detached: true) { continuation.resume(returning: tinyJob(i)) }
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
            }
        })
        cases.append(MicroCase(group: awaited, name: "DispatchQueue.global().async + continuation", isRingLoop: false, operations: trips) { n, watch in
            try awaitTrips(loop, n, watch) { i in
                await withUnsafeContinuation { (continuation: UnsafeContinuation<Int, Never>) in
                    DispatchQueue.global().async { continuation.resume(returning: tinyJob(i)) }
                }
            }
        })
        cases.append(MicroCase(group: awaited, name: "Task.detached { }.value", isRingLoop: false, operations: trips) { n, watch in
            try awaitTrips(loop, n, watch) { i in await Task.detached { tinyJob(i) }.value }
        })

        return MicroSection(
            id: .offload,
            title: "offload: a tiny job (one multiply-add) handed off an event loop; ThreadPool with "
                + "\(pool.threadCount) workers",
            notes: ["thread-per-job cases run fewer operations (each one creates a thread); "
                    + "ops/s is per operation either way",
                    "CPU µs/op is this process's CPU time (all threads) per operation"],
            rounds: quick ? 2 : 5,
            cases: cases,
            teardown: {
                try? pool.syncShutdownGracefully()
                try? loop.syncShutdownGracefully()
            })
    }

    // MARK: Drivers

    /// On `loop`, calls `launch(i, tally)` for i in 0..<n; every launched job records its
    /// outcome in the tally (on the loop). Waits for all n and returns the sum of results.
    static func onLoop(
        _ loop: EventLoop, _ n: Int, _ launch: @escaping @Sendable (Int, LoopTally) -> Void
    ) throws -> Int {
        try loop.flatSubmit { () -> Future<Int> in
            let tally = LoopTally(expected: n, promise: loop.makePromise(of: Int.self))
            for i in 0..<n { launch(i, tally) }
            return tally.promise.future
        }.wait()
    }

    /// On `loop`, runs n jobs one after another: `start(i, back)` launches job i, and `back`
    /// (called on the loop with its outcome) launches the next. Returns each trip's latency
    /// in µs; checks every result.
    static func roundTrips(
        _ loop: EventLoop, _ n: Int, _ watch: Stopwatch,
        _ start: @escaping @Sendable (Int, @escaping @Sendable (Result<Int, any Error>) -> Void) -> Void
    ) throws -> [Double] {
        let chain = try loop.flatSubmit { () -> Future<TripChain> in
            let chain = TripChain(count: n, promise: loop.makePromise(of: TripChain.self))
            // A cycle (chain -> next -> chain) until the last trip, which clears `next`.
            chain.next = { result in
                let now = monotonicSeconds()
                switch result {
                case .success(let value):
                    chain.latencies.append((now - chain.sentAt) * 1e6)
                    chain.sum &+= value
                case .failure(let error):
                    chain.next = nil
                    chain.promise.fail(error)
                    return
                }
                chain.index += 1
                if chain.index == chain.count {
                    chain.next = nil
                    chain.promise.succeed(chain)
                } else {
                    chain.sentAt = monotonicSeconds()
                    start(chain.index) { chain.next?($0) }
                }
            }
            chain.sentAt = monotonicSeconds()
            start(0) { chain.next?($0) }
            return chain.promise.future
        }.wait()
        watch.stop()
        try check(sum: chain.sum, n: n)
        return chain.latencies
    }

    /// In one task on `loop`, awaits `job(i)` for i in 0..<n in turn. Returns each await's
    /// latency in µs; checks every result and that the task stayed on the loop.
    static func awaitTrips(
        _ loop: EventLoop, _ n: Int, _ watch: Stopwatch, _ job: @escaping @Sendable (Int) async throws -> Int
    ) throws -> [Double] {
        let (sum, latencies, offLoop) = try loop.makeFutureWithTask { () -> (Int, [Double], Int) in
            var latencies: [Double] = []
            latencies.reserveCapacity(n)
            var sum = 0
            var offLoop = 0
            for i in 0..<n {
                let sent = monotonicSeconds()
                sum &+= try await job(i)
                latencies.append((monotonicSeconds() - sent) * 1e6)
                if !loop.inEventLoop { offLoop += 1 }
            }
            return (sum, latencies, offLoop)
        }.wait()
        watch.stop()
        try check(sum: sum, n: n)
        guard offLoop == 0 else { throw BenchFailure("the task left its loop after \(offLoop) of \(n) awaits") }
        return latencies
    }

    /// Fills an array of n results from `chunks` disjoint slices; `run(chunks, body)` must
    /// call body(c) once for every c in 0..<chunks before returning.
    static func chunked(_ n: Int, chunks: Int, _ run: (Int, @escaping @Sendable (Int) -> Void) -> Void) -> [Int] {
        let size = (n + chunks - 1) / chunks
        var out = [Int](repeating: 0, count: n)
        out.withUnsafeMutableBufferPointer { buffer in
            // Safe to share: every chunk writes its own disjoint range of the buffer, and the
            // buffer outlives `run`, which returns only after every chunk has finished.
            nonisolated(unsafe) let target = buffer
            run(chunks) { c in
                var i = c * size
                let end = min(n, i + size)
                while i < end {
                    target[i] = tinyJob(i)
                    i += 1
                }
            }
        }
        return out
    }

    // MARK: Checks

    static func check(sum: Int, n: Int) throws {
        let expected = expectedSum(n)
        guard sum == expected else {
            throw BenchFailure("results of \(n) jobs sum to \(sum), expected \(expected): a job lost, repeated or wrong")
        }
    }

    static func checkBatch(_ out: [Int], n: Int) throws {
        guard out.count == n else { throw BenchFailure("batch returned \(out.count) results for \(n) items") }
        for i in 0..<n where out[i] != tinyJob(i) {
            throw BenchFailure("batch result \(i) is \(out[i]), expected \(tinyJob(i))")
        }
    }
}

/// Counts the outcomes of n launched jobs on one loop and completes its promise once: with
/// their sum when all n succeeded, with the first error otherwise.
// Safe to share: every method is called on the loop that owns the promise, one at a time.
final class LoopTally: @unchecked Sendable {
    let promise: Promise<Int>
    private var remaining: Int
    private var sum = 0
    private var failure: (any Error)?

    init(expected: Int, promise: Promise<Int>) {
        self.remaining = expected
        self.promise = promise
    }

    func record(_ result: Result<Int, any Error>) {
        switch result {
        case .success(let value): sum &+= value
        case .failure(let error): if failure == nil { failure = error }
        }
        remaining -= 1
        if remaining == 0 {
            if let failure { promise.fail(failure) } else { promise.succeed(sum) }
        } else if remaining < 0 {
            // Reported once, and only after the promise completed: the check on the sum
            // catches the duplicate too, but say plainly what happened.
            log("!!! a job reported more than once")
        }
    }
}

/// The state of a sequential chain of round trips.
// Safe to share: touched only on the loop that runs the chain.
final class TripChain: @unchecked Sendable {
    let count: Int
    let promise: Promise<TripChain>
    var index = 0
    var sum = 0
    var sentAt = 0.0
    var latencies: [Double] = []
    var next: ((Result<Int, any Error>) -> Void)?

    init(count: Int, promise: Promise<TripChain>) {
        self.count = count
        self.promise = promise
        latencies.reserveCapacity(count)
    }
}
