import Foundation
import Testing
@testable import RingLoop

/// What a `submit` keeps alive: its job's one reference goes to the queue
/// (`PoolQueue.admit(transferring:)`), and back to the submitter when the job
/// is refused. Either way the caller's closure is released once the outcome
/// is delivered, and only then.
@Suite("ThreadPool ownership", .timeLimit(.minutes(1)))
struct ThreadPoolOwnershipTests {
    /// An object whose deallocation a weak reference reports.
    private final class Tracker: Sendable {}

    /// Submits a job capturing a fresh tracker; returns the future and a
    /// weak reference to the tracker (the caller keeps no strong one).
    private static func submitTracked(
        _ pool: ThreadPool, on loop: EventLoop, onFull: ThreadPool.FullQueuePolicy = .wait
    ) -> (Future<Int>, @Sendable () -> Bool) {
        let tracker = Tracker()
        weak let weakTracker = tracker
        let future = pool.submit(on: loop, onFull: onFull) { withExtendedLifetime(tracker) { 7 } }
        return (future, { weakTracker != nil })
    }

    @Test func refusedSubmissionsReleaseTheirClosureAtOnce() async throws {
        let pool = ThreadPool(threadCount: 1, queueCapacity: 1, name: "tp-own-refuse")
        let release = DispatchSemaphore(value: 0)
        try await withLoop { loop async throws in
            let blocker = pool.submit(on: loop) { release.wait() }
            #expect(await eventually { pool.statistics.running == 1 })
            let queued = pool.submit(on: loop) { 1 }
            let refusedAlive = try await loop.submit { () -> (Bool, Future<Int>) in
                let (future, alive) = Self.submitTracked(pool, on: loop, onFull: .fail)
                return (alive(), future)
            }.get()
            #expect(refusedAlive.0 == false)
            await #expect(throws: RingLoopError.queueFull(operation: "ThreadPool.submit", capacity: 1)) {
                try await refusedAlive.1.get()
            }
            release.signal()
            try await blocker.get()
            #expect(try await queued.get() == 1)
        }
        await pool.shutdownGracefully()
        try await withLoop { loop async throws in
            let (alive, future) = try await loop.submit { () -> (Bool, Future<Int>) in
                let (future, alive) = Self.submitTracked(pool, on: loop)
                return (alive(), future)
            }.get()
            #expect(alive == false)
            await #expect(throws: RingLoopError.shutDown) { try await future.get() }
        }
    }

    @Test func anAdmittedJobKeepsItsClosureUntilItsOutcomeIsDelivered() async throws {
        let pool = ThreadPool(threadCount: 2, name: "tp-own-admit")
        try await withLoop { loop async throws in
            for _ in 0..<200 {
                let (releasedOnDelivery, value) = try await loop.submit { () -> Future<(Bool, Int)> in
                    let (future, alive) = Self.submitTracked(pool, on: loop)
                    let aliveWhenSubmitted = alive()
                    // The body goes with the job, released before the future completes.
                    return future.map { (aliveWhenSubmitted && !alive(), $0) }
                }.get().get()
                #expect(releasedOnDelivery, "alive while queued, released once delivered")
                #expect(value == 7)
            }
            #expect(pool.queue.counts.queued == 0)
            #expect(pool.queue.counts.running == 0)
        }
        await pool.shutdownGracefully()
    }
}
