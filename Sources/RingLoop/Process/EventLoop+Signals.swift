#if canImport(Glibc)
import Glibc
#endif

/// Signals delivered on an event loop, read from a signalfd on the ring.
///
/// **The rule.** A signal reaches a signalfd only while it is blocked in
/// *every* thread of the process; a thread that leaves it unblocked takes it
/// the classic way (for `SIGINT`/`SIGTERM`: the process dies). Threads inherit
/// their creator's mask, so block the signals at the very top of `main`,
/// before anything starts a thread (the Swift runtime's own threads, Dispatch,
/// RingLoop's loops):
///
/// ```swift
/// Signal.block([.interrupt, .terminate])         // first line of main
/// let loop = try EventLoop.spawn()
/// let signal = try await loop.waitForSignal()    // SIGINT or SIGTERM
/// ```
///
/// RingLoop's own threads (loops, pool workers) always start with
/// `SIGINT`, `SIGTERM`, `SIGHUP`, `SIGQUIT`, `SIGUSR1`, `SIGUSR2`,
/// `SIGALRM`, `SIGWINCH`, `SIGCHLD` and `SIGPIPE` blocked, so they never take
/// one of those the classic way. Children spawned by `Subprocess` start with
/// nothing blocked.
extension Signal {
    /// Blocks `signals` in the calling thread, and so in every thread it
    /// starts afterwards. Call it first thing in `main`.
    public static func block(_ signals: [Signal]) {
        var mask = sigset_t()
        sigemptyset(&mask)
        for signal in signals { sigaddset(&mask, signal.rawValue) }
        pthread_sigmask(SIG_BLOCK, &mask, nil)
    }
}

extension EventLoop {
    /// The given signals as they arrive, as an `AsyncSequence`.
    ///
    /// ```swift
    /// for try await signal in loop.signals([.interrupt, .terminate]) {
    ///     print("got \(signal)"); break
    /// }
    /// ```
    ///
    /// Delivery starts when this is called (signals that arrive before the
    /// first `next()` are kept, up to 64; a signal's repeats coalesce in the
    /// kernel while it is pending anyway). The sequence ends when the loop
    /// shuts down; dropping it (and its iterator) unsubscribes. See the rule
    /// above: the signals must be blocked in every thread.
    public func signals(_ signals: [Signal]) -> SignalSequence {
        SignalSequence(loop: self, signals: signals)
    }

    /// Calls `handler` on this loop's thread for each of `signals` that
    /// arrives, until the subscription is cancelled or the loop shuts down.
    @discardableResult
    public func onSignal(_ signals: [Signal], _ handler: @escaping @Sendable (Signal) -> Void) -> SignalSubscription {
        SignalSubscription(loop: self, signals: signals, once: false, deliver: handler, end: {})
    }

    /// The first of `signals` to arrive (default: `SIGINT` or `SIGTERM`), as a
    /// future: the graceful-shutdown wait of a synchronous `main`
    /// (`try loop.nextSignal().wait()`). Fails with `RingLoopError.shutDown`
    /// if the loop shuts down first.
    public func nextSignal(_ signals: [Signal] = [.interrupt, .terminate]) -> Future<Signal> {
        let promise = makePromise(of: Signal.self)
        _ = SignalSubscription(loop: self, signals: signals, once: true,
                               deliver: { promise.succeed($0) },
                               end: { promise.fail(RingLoopError.shutDown) })
        return promise.future
    }

    /// Waits for the first of `signals` (default: `SIGINT` or `SIGTERM`), then
    /// runs `shutdown` with it and returns it: the graceful-shutdown helper.
    ///
    /// ```swift
    /// try await loop.waitForSignal { signal in
    ///     print("\(signal): stopping")
    ///     await server.stop()
    /// }
    /// ```
    ///
    /// - Throws: `CancellationError` (nothing is run); `RingLoopError.shutDown`
    ///   if the loop shuts down first; what `shutdown` throws.
    @discardableResult
    public func waitForSignal(
        _ signals: [Signal] = [.interrupt, .terminate],
        then shutdown: @Sendable (Signal) async throws -> Void = { _ in }
    ) async throws -> Signal {
        var iterator = self.signals(signals).makeAsyncIterator()
        guard let signal = try await iterator.next() else { throw RingLoopError.shutDown }
        try await shutdown(signal)
        return signal
    }
}

/// A subscription to signals on a loop; `cancel()` ends it.
// Safe to share: `loop` and `signals` are immutable; `id` and `cancelled` are
// touched only on the loop thread (subscribing and cancelling hop there).
public final class SignalSubscription: @unchecked Sendable {
    private let loop: EventLoop
    private var id: Int?
    private var cancelled = false

    /// `once`: the subscription ends after its first signal.
    init(loop: EventLoop, signals: [Signal], once: Bool,
         deliver: @escaping @Sendable (Signal) -> Void, end: @escaping @Sendable () -> Void) {
        self.loop = loop
        let numbers = Set(signals.map(\.rawValue))
        let start: @Sendable () -> Void = { [self] in
            guard !cancelled, let hub = SignalHub.on(loop) else { end(); return }
            id = try? hub.subscribe(.init(signals: numbers, once: once, deliver: deliver, end: end))
            if id == nil { end() }
        }
        if loop.inEventLoop { start() } else { loop.execute(start) }
    }

    /// Stops delivery (from any thread; takes effect on the loop's thread).
    public func cancel() {
        let stop: @Sendable () -> Void = { [self] in
            cancelled = true
            if let id, let hub = SignalHub.on(loop) { hub.unsubscribe(id) }
            id = nil
        }
        if loop.inEventLoop { stop() } else { loop.execute(stop) }
    }
}

/// The signals that arrive on a loop, as an `AsyncSequence` (see
/// `EventLoop.signals(_:)`).
public struct SignalSequence: AsyncSequence, Sendable {
    public typealias Element = Signal
    private let queue: AsyncQueue<Signal>
    private let owner: Owner

    /// Unsubscribes when the sequence and its iterators are gone.
    final class Owner: Sendable {
        let subscription: SignalSubscription
        init(_ subscription: SignalSubscription) { self.subscription = subscription }
        deinit { subscription.cancel() }
    }

    init(loop: EventLoop, signals: [Signal]) {
        let queue = AsyncQueue<Signal>(capacity: 64)
        self.queue = queue
        owner = Owner(SignalSubscription(loop: loop, signals: signals, once: false,
                                         deliver: { _ = try? queue.tryPut($0) },
                                         end: { queue.close() }))
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(base: queue.makeAsyncIterator(), owner: owner)
    }

    /// Waits for the next signal; nil once the loop has shut down.
    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncQueue<Signal>.AsyncIterator
        let owner: Owner

        public mutating func next() async throws -> Signal? {
            try await base.next()
        }
    }
}
