/// The seam between the event loop and the kernel interface that performs its
/// I/O: io_uring (`Ring`) today, epoll readiness later.
///
/// The loop hands a backend typed operations (`IOOperation`) with a
/// `CompletionHandler` and a context word, and later asks it to wait and to
/// dispatch completions; each completion reaches its handler as one typed
/// `Completion`. The I/O layers never talk to a backend directly: they go
/// through `EventLoop.submitOperation`, `cancelOperation`,
/// `cancelOperations(fd:)` and `supports(_:)` (see `EventLoop+Operations.swift`).
///
/// **Contract.** Loop thread only. A handler (and so the memory an operation
/// points at) is retained until the operation's final completion (one without
/// `hasMore`), including after a cancel. Every operation gets a final
/// completion, even when cancelled. Completions cancelled after
/// `beginShutdown()` report `.shutDown`; earlier cancels report `.cancelled`.
///
/// **Speed.** The loop holds its backend as a concrete type, so the
/// per-operation calls are statically dispatched; a second backend is added
/// as an enum over the concrete backends (switching per call), never as an
/// existential. `submit` allocates nothing.
package protocol IOBackend: AnyObject {
    /// Queues `operation`, submitted with the rest of this tick's operations by
    /// the next `submitAndWait`. Never drops an operation (a full queue is
    /// flushed first).
    func submit(_ operation: IOOperation, options: IOOperation.Options, handler: CompletionHandler, context: UInt64) -> OperationID

    /// Asks for `id` to be cancelled. Its handler still gets a final completion
    /// (usually `.cancelled`). Returns false if the operation already finished.
    @discardableResult
    func cancel(_ id: OperationID) -> Bool

    /// Cancels every operation on `fd` (before closing a descriptor that still
    /// has operations in flight).
    func cancelAll(fd: Int32)

    /// The loop is closing: cancels every live operation; from now on every
    /// cancelled completion reports `.shutDown`.
    func beginShutdown()

    /// Whether this backend can perform `operation` here (kernel support).
    func supports(_ operation: IOOperation) -> Bool

    /// Operations submitted and not yet finished.
    var liveOperations: Int { get }

    /// Arms a one-shot 8-byte read of the loop's wakeup eventfd into `buffer`.
    /// Its completion goes to the `wakeup` callback of `processCompletions`,
    /// not to a handler, and is not counted in `liveOperations`.
    func armWakeup(fd: Int32, buffer: UnsafeMutablePointer<UInt64>)

    /// Cancels the armed wakeup read (at shutdown); its completion still comes.
    func cancelWakeup()

    /// Submits every queued operation and sleeps until a completion arrives or
    /// `timeoutNanoseconds` pass (nil: no limit; 0: do not sleep).
    func submitAndWait(timeoutNanoseconds: UInt64?)

    /// Dispatches every available completion to its handler, and the wakeup
    /// read's to `wakeup`. Returns how many were dispatched.
    @discardableResult
    func processCompletions(wakeup: () -> Void) -> Int

    /// When set, handlers are called through this instead of directly (the
    /// loop times them for its slow-callback reports).
    var invokeHandler: ((CompletionHandler, Completion, UInt64) -> Void)? { get set }

    /// Tears the backend down. Every operation has finished first.
    func close()
}
