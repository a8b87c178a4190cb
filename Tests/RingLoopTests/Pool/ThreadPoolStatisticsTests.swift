import Foundation
import Testing
@testable import RingLoop

@Suite("ThreadPool statistics")
struct ThreadPoolStatisticsTests {
    @Test func statisticsShowBusyWorkersAndQueueDepth() async throws {
        let pool = ThreadPool(threadCount: 2, queueCapacity: 8, name: "stats")
        let gate = ConditionLock()
        nonisolated(unsafe) var open = false
        // `open` is only touched under `gate`'s mutex.
        let started = Box(0)
        let jobs = (0..<5).map { _ in
            Task {
                try await pool.run {
                    started.with { $0 += 1 }
                    gate.wait { open }
                }
            }
        }
        #expect(await eventually { pool.statistics.running == 2 && pool.statistics.queued == 3 })
        let busy = pool.statistics
        #expect(busy.threadCount == 2)
        #expect(busy.liveWorkers == 2)
        #expect(busy.idleWorkers == 0)
        #expect(busy.queueCapacity == 8)
        #expect(busy.waitingForSlot == 0)
        gate.mutate { open = true }
        for job in jobs { try await job.value }
        // A worker leaves the running list after it has handed the result back.
        #expect(await eventually { pool.statistics.running == 0 && pool.statistics.queued == 0 })
        await pool.shutdownGracefully()
        #expect(pool.statistics.liveWorkers == 0)
    }
}
