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
// Safe to share: `result` and `callbacks` are touched only on `eventLoop`'s
// thread (completions and registrations from other threads hop there first).
public final class Future<Value: Sendable>: @unchecked Sendable {
    public typealias Callback = (Result<Value, any Error>) -> Void

    /// The loop on which callbacks run.
    public let eventLoop: EventLoop
    @usableFromInline var result: Result<Value, any Error>?
    @usableFromInline var firstCallback: Callback?
    @usableFromInline var moreCallbacks: [Callback] = []

    @inlinable
    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    @inlinable
    init(eventLoop: EventLoop, result: Result<Value, any Error>) {
        self.eventLoop = eventLoop
        self.result = result
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
        guard self.result == nil else { return false }
        self.result = result
        guard let first = firstCallback else { return true }
        firstCallback = nil
        let more = moreCallbacks
        moreCallbacks = []
        runCallback(first, result)
        for callback in more { runCallback(callback, result) }
        return true
    }

    /// Registers a callback on the loop thread.
    @inlinable
    func _whenComplete(_ callback: @escaping Callback) {
        eventLoop.preconditionInEventLoop()
        if let result {
            runCallback(callback, result)
        } else if firstCallback == nil {
            firstCallback = callback
        } else {
            moreCallbacks.append(callback)
        }
    }

    /// Runs callbacks inline, but trampolines through the loop's queue once
    /// chains nest deeply, so a long synchronous chain cannot overflow the stack.
    @inlinable
    func runCallback(_ callback: @escaping Callback, _ result: Result<Value, any Error>) {
        let loop = eventLoop
        if !loop.runInlineIfShallow({ callback(result) }) {
            loop.executeOnLoop { callback(result) }
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
        whenComplete { if case let .success(value) = $0 { callback(value) } }
    }

    /// Calls `callback` with the error if the future fails.
    @inlinable
    public func whenFailure(_ callback: @escaping @Sendable (any Error) -> Void) {
        whenComplete { if case let .failure(error) = $0 { callback(error) } }
    }
}
