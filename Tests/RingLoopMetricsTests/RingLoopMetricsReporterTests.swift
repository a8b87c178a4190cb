import Foundation
import Metrics
import MetricsTestKit
import RingLoop
import RingLoopMetrics
import Testing

@Suite("RingLoopMetrics")
struct RingLoopMetricsReporterTests {
    @Test func reportsLoopCountersAndGaugesUnderTheLoopsName() async throws {
        let metrics = TestMetrics()
        var configuration = EventLoop.Configuration()
        configuration.name = "metrics-loop"
        let loop = try EventLoop.spawn(configuration: configuration)
        let reporter = RingLoopMetricsReporter(loops: [loop], dimensions: [("app", "test")], factory: metrics)
        let dimensions = [("app", "test"), ("loop", "metrics-loop")]

        await reporter.reportOnce()
        let ticks = try metrics.expectCounter("ringloop_loop_ticks_total", dimensions)
        let firstTicks = ticks.totalValue
        #expect(firstTicks > 0)

        let timer = loop.schedule(after: .seconds(60)) {}
        for _ in 0..<10 { try await loop.submit {}.get() }
        await reporter.reportOnce()
        let stats = try await loop.statistics().get()

        // Counters are fed differences: their totals track the loop's totals
        // (the statistics job itself may have ticked once more since).
        #expect(ticks.totalValue > firstTicks)
        #expect(ticks.totalValue <= Int64(stats.ticks))
        let enters = try metrics.expectCounter("ringloop_loop_ring_enters_total", dimensions)
        #expect(enters.totalValue > 0)
        _ = try metrics.expectCounter("ringloop_loop_completions_total", dimensions)
        _ = try metrics.expectCounter("ringloop_loop_submissions_total", dimensions)
        _ = try metrics.expectCounter("ringloop_loop_slow_callbacks_total", dimensions)
        #expect(try metrics.expectGauge("ringloop_loop_timers", dimensions).lastValue == 1)
        #expect(try metrics.expectGauge("ringloop_loop_operations_in_flight", dimensions).lastValue != nil)
        #expect(try metrics.expectGauge("ringloop_loop_submissions_per_enter", dimensions).lastValue != nil)

        timer.cancel()
        await loop.shutdownGracefully()
        await reporter.reportOnce()   // a shut-down loop is skipped, not an error
    }

    @Test func reportsPoolQueueDepthAndBusyWorkers() async throws {
        let metrics = TestMetrics()
        let pool = ThreadPool(threadCount: 1, queueCapacity: 4, name: "metrics-pool")
        let reporter = RingLoopMetricsReporter(loops: [], pools: [pool], factory: metrics)
        let dimensions = [("pool", "metrics-pool")]
        let release = Gate()
        let started = Gate()
        let jobs = (0..<3).map { index in
            Task {
                try await pool.run {
                    if index == 0 { started.open() }
                    release.waitBounded()
                }
            }
        }
        #expect(started.waitBounded())
        // Job 0 runs; jobs 1 and 2 are queued once their tasks have submitted.
        let deadline = Date().addingTimeInterval(5)
        while pool.statistics.queued < 2, Date() < deadline { usleep(1_000) }
        await reporter.reportOnce()
        #expect(try metrics.expectGauge("ringloop_pool_busy_workers", dimensions).lastValue == 1)
        #expect(try metrics.expectGauge("ringloop_pool_queue_depth", dimensions).lastValue == 2)
        #expect(try metrics.expectGauge("ringloop_pool_live_workers", dimensions).lastValue == 1)
        #expect(try metrics.expectGauge("ringloop_pool_waiting_for_slot", dimensions).lastValue == 0)
        release.open()
        for job in jobs { try await job.value }
        // A worker leaves the running list after it has handed the result back.
        let idleBy = Date().addingTimeInterval(5)
        while pool.statistics.running > 0, Date() < idleBy { usleep(1_000) }
        await reporter.reportOnce()
        #expect(try metrics.expectGauge("ringloop_pool_busy_workers", dimensions).lastValue == 0)
        await pool.shutdownGracefully()
    }

    @Test func runPollsUntilCancelledAndThenReturns() async throws {
        let metrics = TestMetrics()
        let loop = try EventLoop.spawn()
        let reporter = RingLoopMetricsReporter(loops: [loop], interval: .milliseconds(5), factory: metrics)
        let polling = Task { try await reporter.run() }
        let deadline = Date().addingTimeInterval(5)
        while metrics.counters(label: "ringloop_loop_ticks_total").first.map({ $0.values.count >= 3 }) != true,
              Date() < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(metrics.counters(label: "ringloop_loop_ticks_total").first?.values.count ?? 0 >= 3)
        polling.cancel()
        try await polling.value
        await loop.shutdownGracefully()
    }
}

/// A one-shot gate for worker threads, waiting at most 10 s.
final class Gate: @unchecked Sendable {
    // Safe to share: `isOpen` is guarded by `condition`.
    private let condition = NSCondition()
    private var isOpen = false

    func open() {
        condition.lock()
        isOpen = true
        condition.broadcast()
        condition.unlock()
    }

    @discardableResult
    func waitBounded() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date().addingTimeInterval(10)
        while !isOpen, condition.wait(until: deadline) {}
        return isOpen
    }
}
