import CoreMetrics
import RingLoop
import Synchronization

/// The metrics of one loop, and the totals last reported (counters are fed
/// the difference).
final class LoopReporter: Sendable {
    let loop: EventLoop
    private let ticks: Counter
    private let completions: Counter
    private let enters: Counter
    private let submissions: Counter
    private let slowCallbacks: Counter
    private let inFlight: Gauge
    private let timers: Gauge
    private let submissionsPerEnter: Gauge
    private let last = Mutex(EventLoop.Statistics?.none)

    init(loop: EventLoop, prefix: String, dimensions: [(String, String)], factory: any MetricsFactory) {
        self.loop = loop
        func counter(_ name: String) -> Counter {
            Counter(label: "\(prefix)_loop_\(name)_total", dimensions: dimensions, factory: factory)
        }
        func gauge(_ name: String) -> Gauge {
            Gauge(label: "\(prefix)_loop_\(name)", dimensions: dimensions, factory: factory)
        }
        ticks = counter("ticks")
        completions = counter("completions")
        enters = counter("ring_enters")
        submissions = counter("submissions")
        slowCallbacks = counter("slow_callbacks")
        inFlight = gauge("operations_in_flight")
        timers = gauge("timers")
        submissionsPerEnter = gauge("submissions_per_enter")
    }

    func report() async {
        guard let now = try? await loop.statistics().get() else { return }
        let previous = last.withLock { last in
            defer { last = now }
            return last
        }
        func delta(_ path: KeyPath<EventLoop.Statistics, Int>) -> Int64 {
            Int64(now[keyPath: path] &- (previous?[keyPath: path] ?? 0))
        }
        ticks.increment(by: delta(\.ticks))
        completions.increment(by: delta(\.completions))
        enters.increment(by: delta(\.ringEnters))
        submissions.increment(by: delta(\.submissions))
        slowCallbacks.increment(by: delta(\.slowCallbacks))
        inFlight.record(now.operationsInFlight)
        timers.record(now.pendingTimers)
        let entersNow = delta(\.ringEnters)
        submissionsPerEnter.record(entersNow == 0 ? 0 : Double(delta(\.submissions)) / Double(entersNow))
    }
}

/// The gauges of one thread pool.
final class PoolReporter: Sendable {
    let pool: ThreadPool
    private let queued: Gauge
    private let waiting: Gauge
    private let busy: Gauge
    private let live: Gauge

    init(pool: ThreadPool, prefix: String, dimensions: [(String, String)], factory: any MetricsFactory) {
        self.pool = pool
        func gauge(_ name: String) -> Gauge {
            Gauge(label: "\(prefix)_pool_\(name)", dimensions: dimensions, factory: factory)
        }
        queued = gauge("queue_depth")
        waiting = gauge("waiting_for_slot")
        busy = gauge("busy_workers")
        live = gauge("live_workers")
    }

    func report() {
        let now = pool.statistics
        queued.record(now.queued)
        waiting.record(now.waitingForSlot)
        busy.record(now.running)
        live.record(now.liveWorkers)
    }
}
