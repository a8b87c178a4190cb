import Foundation
import Testing
@testable import RingLoop

/// How a `submit`'s outcome crosses back to its loop: inside the job itself
/// (`LoopRunnable`), once the worker has retired it.
@Suite("ThreadPool delivery", .timeLimit(.minutes(1)))
struct ThreadPoolDeliveryTests {
    @Test func aFutureCompletesAfterTheWorkItsBodyQueuedOnTheLoop() async throws {
        let pool = ThreadPool(threadCount: 2, name: "tp-order")
        let jobs = 500
        let log = Box<[String]>([])
        try await withLoop { loop async throws in
            let all = (0..<jobs).map { i in
                pool.submit(on: loop) { () -> Int in
                    loop.execute { log.with { $0.append("body \(i)") } }
                    return i
                }.map { i in log.with { $0.append("future \(i)") } }
            }
            for future in all { try await future.get() }
        }
        // Per job, what its body handed to the loop ran before its future
        // completed (the loop runs one thread's work in order).
        let entries = log.get
        #expect(entries.count == 2 * jobs)
        for i in 0..<jobs {
            let body = entries.firstIndex(of: "body \(i)")
            let future = entries.firstIndex(of: "future \(i)")
            #expect(body != nil && future != nil && body! < future!, "job \(i)")
        }
        await pool.shutdownGracefully()
    }

    @Test func aCompletedFutureNoLongerCountsItsJobAsRunning() async throws {
        let pool = ThreadPool(threadCount: 1, name: "tp-retired")
        try await withLoop { loop async throws in
            for _ in 0..<50 {
                // Read on the loop, in the future's own callback.
                let running = try await pool.submit(on: loop) { 1 }.map { _ in pool.statistics.running }.get()
                #expect(running == 0)
            }
        }
        await pool.shutdownGracefully()
    }

    @Test func aJobFinishingAfterItsLoopShutDownStillCompletesItsFuture() async throws {
        let pool = ThreadPool(threadCount: 1, name: "tp-orphan")
        let started = Box(false)
        let release = Box(false)
        let outcome = Box<Int?>(nil)
        let loop = try EventLoop.spawn()
        let future = pool.submit(on: loop) { () -> Int in
            started.with { $0 = true }
            _ = eventually { release.get }  // bounded; the test's expectations below fail if it times out
            return 42
        }
        future.whenSuccess { value in outcome.with { $0 = value } }
        #expect(await eventually { started.get })
        try loop.syncShutdownGracefully()
        release.with { $0 = true }
        // Delivered through the shut-down loop's post-shutdown executor.
        #expect(await eventually { outcome.get == 42 })
        await pool.shutdownGracefully()
    }

    /// A bounded stress: several threads submit tiny jobs for two loops while
    /// the workers run them; every future completes exactly once, on its own
    /// loop, and the pool ends empty.
    @Test func tinyJobsFromSeveralThreadsEachCompleteOnceOnTheirLoop() async throws {
        let pool = ThreadPool(threadCount: 2, queueCapacity: 64, name: "tp-stress")
        let loops = try (0..<2).map { _ in try EventLoop.spawn() }
        let threads = 4
        let perThread = 2_000
        let completions = Box([Int](repeating: 0, count: threads * perThread))
        let wrongLoop = Box(0)
        let submitted = DispatchGroup()
        for t in 0..<threads {
            DispatchQueue.global().async(group: submitted) {
                for i in 0..<perThread {
                    let index = t * perThread + i
                    let loop = loops[index % 2]
                    pool.submit(on: loop) { index &* 3 }.whenSuccess { value in
                        if !loop.inEventLoop || value != index &* 3 { wrongLoop.with { $0 += 1 } }
                        completions.with { $0[index] += 1 }
                    }
                }
            }
        }
        #expect(submitted.wait(timeout: .now() + 20) == .success)
        #expect(await eventually(timeout: .seconds(20)) { completions.get.allSatisfy { $0 >= 1 } })
        #expect(completions.get.allSatisfy { $0 == 1 })
        #expect(wrongLoop.get == 0)
        #expect(await eventually { pool.statistics.running == 0 && pool.statistics.queued == 0 })
        for loop in loops { try loop.syncShutdownGracefully() }
        await pool.shutdownGracefully()
    }
}
