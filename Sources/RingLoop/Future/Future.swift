/// A value (or error) that an event loop will produce later: the result side of
/// a `Promise`.
///
/// Every callback runs on the future's `eventLoop`, whichever thread completed
/// the promise. Compose with `map`/`flatMap`, or leave callback land with
/// `try await future.get()`.
///
/// ```swift
/// let size = file.stat().map { $0.size }          // Future<Int64>
/// let bytes = try await size.get()
/// ```
// Safe to share: the outcome and the listeners are touched only on
// `eventLoop`'s thread (completions and registrations from other threads hop
// there first), with one exception: the pool job that alone completes a
// future stages its outcome (`_stageOutcome`, on a worker, or wherever the
// job is abandoned) while `isComplete` is false, then hands the job to the
// loop through the loop's queue lock; the loop reads the outcome only once
// `isComplete` is true, which it sets itself after that hand-over.
public final class Future<Value: Sendable>: @unchecked Sendable {
    public typealias Callback = (Result<Value, any Error>) -> Void

    /// A registered callback. `whenSuccess` and `whenFailure` store the
    /// caller's closure as it is (no wrapping closure to allocate).
    @usableFromInline enum Listener {
        case complete(Callback)
        case success((Value) -> Void)
        case failure((any Error) -> Void)
    }

    /// The loop on which callbacks run.
    public let eventLoop: EventLoop

    // The outcome is kept as a value and an error, not as one
    // `Result<Value, any Error>?`: the deinit, which runs unspecialized, then
    // looks up the metadata of one generic type (`Value?`) instead of two.
    // `@exclusivity(unchecked)`, all five: every access is a plain load or
    // store, or one array append, none of which calls out, so no two accesses
    // can overlap; the runtime checks would only cost.

    /// The value, once completed with success (or staged, see above).
    @usableFromInline @exclusivity(unchecked) var value: Value?
    /// The error, once completed with failure (or staged, see above).
    @usableFromInline @exclusivity(unchecked) var error: (any Error)?
    /// Whether the outcome is final (callbacks have run or are running).
    @usableFromInline @exclusivity(unchecked) var isComplete = false
    @usableFromInline @exclusivity(unchecked) var firstListener: Listener?
    @usableFromInline @exclusivity(unchecked) var moreListeners: [Listener] = []

    @inlinable
    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    @inlinable
    init(eventLoop: EventLoop, result: Result<Value, any Error>) {
        self.eventLoop = eventLoop
        store(result)
        isComplete = true
    }

    /// The outcome, if the future has completed.
    @inlinable
    var result: Result<Value, any Error>? {
        guard isComplete else { return nil }
        return storedResult
    }

    /// The stored outcome (set: `isComplete` says whether it is final).
    @inlinable
    var storedResult: Result<Value, any Error> {
        if let error { return .failure(error) }
        return .success(value!)
    }

    @inlinable
    func store(_ result: Result<Value, any Error>) {
        switch result {
        case let .success(value): self.value = value
        case let .failure(error): self.error = error
        }
    }

    // MARK: Completion (internal)

    /// Completes from any thread; the first completion wins.
    @inlinable
    func _complete(_ result: Result<Value, any Error>) {
        if eventLoop.inEventLoop {
            _setResult(result)
        } else {
            eventLoop.execute { self._setResult(result) }
        }
    }

    /// Completes on the loop thread; the first completion wins. Returns whether
    /// this call completed the future.
    @inlinable
    @discardableResult
    func _setResult(_ result: Result<Value, any Error>) -> Bool {
        eventLoop.preconditionInEventLoop()
        guard !isComplete else { return false }
        store(result)
        finishCompletion()
        return true
    }

    /// Stores an outcome without completing the future, from the one thread
    /// that will complete it (`_completeWithStaged()`) once it has handed
    /// the future to its loop. Only for a future nothing else completes (a
    /// pool job's), and only before it is complete.
    @inlinable
    func _stageOutcome(_ result: Result<Value, any Error>) {
        store(result)
    }

    /// Completes the future with the outcome `_stageOutcome` stored, on the
    /// loop thread.
    @inlinable
    func _completeWithStaged() {
        eventLoop.preconditionInEventLoop()
        guard !isComplete else { return }
        finishCompletion()
    }

    /// Marks the stored outcome final and runs the listeners.
    @inlinable
    func finishCompletion() {
        isComplete = true
        guard let first = firstListener else { return }
        firstListener = nil
        let more = moreListeners
        moreListeners = []
        notify(first)
        for listener in more { notify(listener) }
    }

    /// Registers a callback on the loop thread.
    @inlinable
    func _whenComplete(_ callback: @escaping Callback) {
        listen(.complete(callback))
    }

    /// Registers `listener` on the loop thread; runs it now if complete.
    @inlinable
    func listen(_ listener: Listener) {
        eventLoop.preconditionInEventLoop()
        if isComplete {
            notify(listener)
        } else if firstListener == nil {
            firstListener = listener
        } else {
            moreListeners.append(listener)
        }
    }

    /// Runs a listener of the completed future: inline, but trampolined
    /// through the loop's queue once chains nest deeply, so a long
    /// synchronous chain cannot overflow the stack.
    @inlinable
    func notify(_ listener: Listener) {
        let loop = eventLoop
        switch listener {
        case let .complete(callback):
            let result = storedResult
            if !loop.runInlineIfShallow({ callback(result) }) {
                loop.executeOnLoop { callback(result) }
            }
        case let .success(callback):
            guard error == nil, let value else { return }
            if !loop.runInlineIfShallow({ callback(value) }) {
                loop.executeOnLoop { callback(value) }
            }
        case let .failure(callback):
            guard let error else { return }
            if !loop.runInlineIfShallow({ callback(error) }) {
                loop.executeOnLoop { callback(error) }
            }
        }
    }

    /// The result if the future has completed (loop thread only).
    @inlinable
    var _result: Result<Value, any Error>? {
        eventLoop.preconditionInEventLoop()
        return result
    }

    // MARK: Callbacks

    /// Calls `callback` on the future's loop once the future completes.
    @inlinable
    public func whenComplete(_ callback: @escaping @Sendable (Result<Value, any Error>) -> Void) {
        if eventLoop.inEventLoop {
            _whenComplete(callback)
        } else {
            eventLoop.execute { self._whenComplete(callback) }
        }
    }

    /// Calls `callback` with the value if the future succeeds.
    @inlinable
    public func whenSuccess(_ callback: @escaping @Sendable (Value) -> Void) {
        if eventLoop.inEventLoop {
            listen(.success(callback))
        } else {
            eventLoop.execute { self.listen(.success(callback)) }
        }
    }

    /// Calls `callback` with the error if the future fails.
    @inlinable
    public func whenFailure(_ callback: @escaping @Sendable (any Error) -> Void) {
        if eventLoop.inEventLoop {
            listen(.failure(callback))
        } else {
            eventLoop.execute { self.listen(.failure(callback)) }
        }
    }
}
