import Synchronization

/// A timer that runs a body on its loop and keeps the outcome for a future
/// that is made only when somebody asks for it (`Scheduled.future`).
///
/// Most scheduled work is fire-and-forget: nobody reads the future. Making
/// it up front cost a second allocation per timer and a full future
/// completion per firing. Instead `state` holds one of three things:
/// `0` (pending, no future yet), `1` (completed, outcome kept in `failure` or `value`, no
/// future yet), or a retained `Future<T>` pointer. The loop moves 0 → 1 when
/// it completes the work; anyone moves 0 → future (the loop then completes
/// it) or 1 → an already completed future. Every caller of `future` gets the
/// same instance.
// Safe to share: `body` and the node's flags are touched only on the owning
// loop's thread (other threads hop there for `install` and `cancel`);
// `failure` and `value` are written once on that thread before `state` is released to 1,
// and read elsewhere only after acquiring `state == 1`; `state` is atomic.
@usableFromInline final class ScheduledTimer<T: Sendable>: TimerNode, @unchecked Sendable {
    @usableFromInline let loop: EventLoop
    @usableFromInline var body: (@Sendable () throws -> T)?
    /// Declared before the outcome so that everything firing reads sits in
    /// the node's first 64 bytes, the part the wheel prefetches.
    private let state = Atomic<UInt>(0)
    /// The outcome, kept while no future exists: a failure, else the value
    /// boxed (not a `Result<T, _>`: a generic type built from `T` costs a
    /// metadata lookup on every firing, about 6% of a timer's CPU time).
    private var failure: (any Error)?
    private var value: Any?

    private static var pending: UInt { 0 }
    private static var completed: UInt { 1 }

    @usableFromInline
    init(deadline: Deadline, loop: EventLoop, body: @escaping @Sendable () throws -> T) {
        self.loop = loop
        self.body = body
        super.init(deadline: deadline)
    }

    deinit {
        let raw = state.load(ordering: .acquiring)
        if raw > Self.completed { Self.futureFrom(raw).release() }
    }

    /// Loop thread: into the wheel, or failed at once if the loop is closing.
    @usableFromInline
    func install() {
        if !loop.insertTimer(self) {
            isLive = false
            fire(false)
        }
    }

    @usableFromInline
    override func fire(_ fired: Bool) {
        let body = self.body
        self.body = nil
        guard fired, let body else {
            fail(RingLoopError.shutDown)
            return
        }
        if firesUnobserved && state.load(ordering: .acquiring) == Self.pending {
            // No `Scheduled` holds this timer and no future was made from
            // one, so none can be made: run the work and keep nothing (no
            // boxed outcome, no atomic exchange).
            do { _ = try body() } catch {}
            return
        }
        let value: T
        do {
            value = try body()
        } catch {
            fail(error)
            return
        }
        if markCompleted(keeping: value, nil) { return }
        future(ofState: state.load(ordering: .acquiring))._setResult(.success(value))
    }

    @usableFromInline
    override func didCancel() { body = nil }

    /// Loop thread: cancels if still pending.
    @usableFromInline
    func cancelOnLoop() {
        if loop.cancelTimer(self) {
            fail(CancellationError())
        }
    }

    /// Loop thread, once: fails the future, or keeps the error for one made later.
    private func fail(_ error: any Error) {
        if markCompleted(keeping: nil, error) { return }
        future(ofState: state.load(ordering: .acquiring))._setResult(.failure(error))
    }

    /// Loop thread, once: when no future exists yet, keeps the outcome and
    /// moves `state` to completed (true); false when a future exists (the
    /// caller completes it).
    private func markCompleted(keeping value: Any?, _ error: (any Error)?) -> Bool {
        guard state.load(ordering: .acquiring) == Self.pending else { return false }
        if let error { failure = error } else { self.value = value }
        let (exchanged, _) = state.compareExchange(
            expected: Self.pending, desired: Self.completed,
            successOrdering: .releasing, failureOrdering: .acquiring)
        if !exchanged {
            failure = nil
            self.value = nil
        }
        return exchanged
    }

    private func future(ofState raw: UInt) -> Future<T> {
        Self.futureFrom(raw).takeUnretainedValue()
    }

    /// The work's future, made on first use (from any thread).
    @usableFromInline
    var future: Future<T> {
        var raw = state.load(ordering: .acquiring)
        while true {
            if raw > Self.completed { return Self.futureFrom(raw).takeUnretainedValue() }
            // The kept outcome is final once `state` is completed (acquired above).
            let made = raw == Self.pending ? Future<T>(eventLoop: loop) : Future<T>(eventLoop: loop, result: keptOutcome())
            let bits = UInt(bitPattern: Unmanaged.passRetained(made).toOpaque())
            let (exchanged, current) = state.compareExchange(
                expected: raw, desired: bits,
                successOrdering: .acquiringAndReleasing, failureOrdering: .acquiring)
            if exchanged { return made }
            Unmanaged.passUnretained(made).release()
            raw = current
        }
    }

    /// Whether a future has been made (tests: fire-and-forget work makes none).
    var hasFuture: Bool { state.load(ordering: .acquiring) > Self.completed }

    /// The outcome kept by `markCompleted`; only once `state` is completed.
    private func keptOutcome() -> Result<T, any Error> {
        if let failure { return .failure(failure) }
        // `markCompleted` is private and its one value-keeping call passes the
        // `T` the timer's body returned, so this cast cannot fail.
        return .success(value as! T)
    }

    private static func futureFrom(_ raw: UInt) -> Unmanaged<Future<T>> {
        Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: raw)!)
    }
}
