import Synchronization

/// A timer that runs a body on its loop and keeps the outcome for a future
/// that is made only when somebody asks for it (`Scheduled.future`).
///
/// Most scheduled work is fire-and-forget: nobody reads the future. Making
/// it up front cost a second allocation per timer and a full future
/// completion per firing. Instead `state` holds one of these: `0` (pending,
/// no future yet), `1` (completed, outcome kept in `kept`, no future yet),
/// `2` (cancelled) or `3` (failed by shutdown), both with no future yet and
/// nothing to keep, or a retained `Future<T>` pointer. The loop moves 0 → 1,
/// 2 or 3 when it completes the work; anyone moves 0 → future (the loop then
/// completes it) or 1, 2, 3 → an already completed future. Every caller of
/// `future` gets the same instance.
// Safe to share: `body` and the node's flags are touched only on the owning
// loop's thread (other threads hop there for `install` and `cancel`);
// `kept` is written once on that thread before `state` is released to 1,
// and read elsewhere only after acquiring `state == 1`; `state` is atomic.
@usableFromInline final class ScheduledTimer<T: Sendable>: TimerNode, @unchecked Sendable {
    @usableFromInline let loop: EventLoop
    // `body` and `kept` skip the runtime's access checks (a tenth of firing
    // a timer): every access is a plain load or store on the loop thread,
    // none open while user code runs (`fire` copies `body` out first).
    @usableFromInline @exclusivity(unchecked) var body: (@Sendable () throws -> T)?
    /// Declared before the outcome so that everything firing reads sits in
    /// the node's first 64 bytes, the part the wheel prefetches.
    private let state = Atomic<UInt>(0)
    /// The outcome, kept while no future exists but a `Scheduled` does (not
    /// a `Result<T, _>`: a generic type built from `T` costs a metadata
    /// lookup on every firing, about 6% of a timer's CPU time). Boxed, so
    /// the node stays small and its deinit releases one optional
    /// reference instead of destroying two existentials through
    /// `T`-independent value witnesses (6% of firing a million timers).
    @exclusivity(unchecked) private var kept: KeptOutcome?

    private static var pending: UInt { 0 }
    private static var completed: UInt { 1 }
    private static var cancelled: UInt { 2 }
    private static var shutDown: UInt { 3 }
    /// Every state above this one is a future's address.
    private static var lastOutcome: UInt { 3 }

    @usableFromInline
    init(deadline: Deadline, loop: EventLoop, body: @escaping @Sendable () throws -> T) {
        self.loop = loop
        self.body = body
        super.init(deadline: deadline)
    }

    deinit {
        let raw = state.load(ordering: .acquiring)
        if raw > Self.lastOutcome { Self.futureFrom(raw).release() }
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
            fail(RingLoopError.shutDown, ending: Self.shutDown)
            return
        }
        if firesUnobserved && state.load(ordering: .acquiring) == Self.pending {
            // No `Scheduled` holds this timer and no future was made from
            // one, so none can be made: run the work and keep nothing (no
            // boxed outcome, no atomic exchange).
            do { _ = try body() } catch {}
            return
        }
        complete(running: body)
    }

    /// Loop thread, once: runs the work for a `Scheduled` that may ask for
    /// its outcome. Out of line so that `fire`'s fire-and-forget path does
    /// not look up `Result<T, any Error>`'s metadata (which this path's
    /// locals need, and which the compiler fetches on entry): 6% of
    /// scheduling and firing a timer.
    @inline(never)
    private func complete(running body: @Sendable () throws -> T) {
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
            fail(CancellationError(), ending: Self.cancelled)
        }
    }

    /// Loop thread, once: fails the future, or keeps the error for one made
    /// later (`ending` says how: `completed` keeps `error` in a box,
    /// `cancelled` and `shutDown` need none).
    private func fail(_ error: any Error, ending: UInt = ScheduledTimer.completed) {
        if markCompleted(keeping: nil, error, ending: ending) { return }
        future(ofState: state.load(ordering: .acquiring))._setResult(.failure(error))
    }

    /// Loop thread, once: when no future exists yet, keeps the outcome and
    /// moves `state` to `ending` (true); false when a future exists (the
    /// caller completes it).
    private func markCompleted(keeping value: Any?, _ error: (any Error)?, ending: UInt = ScheduledTimer.completed) -> Bool {
        guard state.load(ordering: .acquiring) == Self.pending else { return false }
        if ending == Self.completed { kept = KeptOutcome(value: value, failure: error) }
        let (exchanged, _) = state.compareExchange(
            expected: Self.pending, desired: ending,
            successOrdering: .releasing, failureOrdering: .acquiring)
        if !exchanged { kept = nil }
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
            if raw > Self.lastOutcome { return Self.futureFrom(raw).takeUnretainedValue() }
            // The kept outcome is final once `state` is completed (acquired above).
            let made = raw == Self.pending ? Future<T>(eventLoop: loop) : Future<T>(eventLoop: loop, result: outcome(ofState: raw))
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
    var hasFuture: Bool { state.load(ordering: .acquiring) > Self.lastOutcome }

    /// The outcome a finished `state` (1, 2 or 3) stands for.
    private func outcome(ofState raw: UInt) -> Result<T, any Error> {
        if raw == Self.cancelled { return .failure(CancellationError()) }
        if raw == Self.shutDown { return .failure(RingLoopError.shutDown) }
        // `markCompleted` always keeps a box before moving `state` to completed.
        guard let kept else { preconditionFailure("a completed timer keeps its outcome") }
        if let failure = kept.failure { return .failure(failure) }
        // `markCompleted` is private and its one value-keeping call passes the
        // `T` the timer's body returned, so this cast cannot fail.
        return .success(kept.value as! T)
    }

    private static func futureFrom(_ raw: UInt) -> Unmanaged<Future<T>> {
        Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: raw)!)
    }
}

/// A `ScheduledTimer`'s outcome, kept for a future made after the work ran.
// Safe to share: immutable; written on the loop thread before the timer's
// `state` is released to completed, read only after acquiring it.
final class KeptOutcome: @unchecked Sendable {
    let value: Any?
    let failure: (any Error)?

    init(value: Any?, failure: (any Error)?) {
        self.value = value
        self.failure = failure
    }
}
