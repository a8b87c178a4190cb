import CoreMetrics
import RingLoop

/// Reports RingLoop's statistics through swift-metrics: per-loop counters and
/// gauges and per-pool gauges, polled on an interval.
///
/// Off by default and free when off: the loops and pools keep their plain
/// counters anyway (`EventLoop.statistics()`, `ThreadPool.statistics`); only a
/// running reporter reads them, costing one job per loop per interval.
///
/// | metric (with `labelPrefix` "ringloop") | kind | dimensions |
/// | --- | --- | --- |
/// | `ringloop_loop_ticks_total` | counter | `loop` |
/// | `ringloop_loop_completions_total` | counter | `loop` |
/// | `ringloop_loop_ring_enters_total` | counter | `loop` |
/// | `ringloop_loop_submissions_total` | counter | `loop` |
/// | `ringloop_loop_slow_callbacks_total` | counter | `loop` |
/// | `ringloop_loop_operations_in_flight` | gauge | `loop` |
/// | `ringloop_loop_timers` | gauge | `loop` |
/// | `ringloop_loop_submissions_per_enter` | gauge (over the last interval) | `loop` |
/// | `ringloop_pool_queue_depth` | gauge | `pool` |
/// | `ringloop_pool_waiting_for_slot` | gauge | `pool` |
/// | `ringloop_pool_busy_workers` | gauge | `pool` |
/// | `ringloop_pool_live_workers` | gauge | `pool` |
///
/// ```swift
/// MetricsSystem.bootstrap(PrometheusMetricsFactory())   // or any backend
/// let reporter = RingLoopMetricsReporter(loops: group.loops, pools: [pool], interval: .seconds(10))
/// let polling = Task { try await reporter.run() }       // until cancelled
/// ```
///
/// `run()` has the shape of swift-service-lifecycle's `Service`; to put the
/// reporter in a `ServiceGroup`, declare `extension RingLoopMetricsReporter: Service {}`
/// where both are imported (it returns when the group cancels it).
public final class RingLoopMetricsReporter: Sendable {
    /// How often `run()` polls.
    public let interval: Duration
    private let loops: [LoopReporter]
    private let pools: [PoolReporter]

    /// A reporter for `loops` and `pools`.
    ///
    /// - Parameters:
    ///   - loops: the loops to report on (typically `group.loops`); each gets
    ///     its name as the `loop` dimension.
    ///   - pools: the thread pools to report on; each gets its name as the
    ///     `pool` dimension.
    ///   - interval: how often `run()` polls.
    ///   - labelPrefix: the start of every metric's label.
    ///   - dimensions: extra dimensions added to every metric.
    ///   - factory: where the metrics go (`MetricsSystem.factory`, the
    ///     bootstrapped backend, by default).
    public init(
        loops: [EventLoop],
        pools: [ThreadPool] = [],
        interval: Duration = .seconds(10),
        labelPrefix: String = "ringloop",
        dimensions: [(String, String)] = [],
        factory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.interval = interval
        self.loops = loops.map {
            LoopReporter(loop: $0, prefix: labelPrefix, dimensions: dimensions + [("loop", $0.name)], factory: factory)
        }
        self.pools = pools.map {
            PoolReporter(pool: $0, prefix: labelPrefix, dimensions: dimensions + [("pool", $0.name)], factory: factory)
        }
    }

    /// Polls every loop and pool once and updates the metrics. A loop that
    /// has shut down is skipped.
    public func reportOnce() async {
        for pool in pools { pool.report() }
        for loop in loops { await loop.report() }
    }

    /// Polls every `interval` until the calling task is cancelled, then
    /// returns (without throwing: cancellation is how it is stopped).
    public func run() async throws {
        while !Task.isCancelled {
            await reportOnce()
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
        }
    }
}
