/// The ring as the I/O layers see it: submit an operation with a handler,
/// cancel it, count what is in flight. Loop thread only.
extension EventLoop {
    /// Starts `operation`, submitted with the rest of this tick's operations.
    /// `handler` keeps everything the kernel may touch alive until the
    /// operation's final completion, which it receives on this thread as one
    /// `Completion`; `context` tells its operations apart.
    ///
    /// - Throws: `RingLoopError.shutDown` once the loop is closing; the caller
    ///   then completes its work with that error (and closes fds synchronously).
    @inline(__always)
    func submitOperation(
        _ operation: IOOperation,
        options: IOOperation.Options = [],
        handler: CompletionHandler,
        context: UInt64 = 0
    ) throws(RingLoopError) -> OperationID {
        preconditionInEventLoop()
        guard state == .running else { throw .shutDown }
        return ring.submit(operation, options: options, handler: handler, context: context)
    }

    /// Asks the kernel to cancel an operation. Its handler still receives a
    /// final completion (usually `.cancelled`); until then the operation's memory stays
    /// owned. Returns false if the operation had already finished.
    @discardableResult
    func cancelOperation(_ id: OperationID) -> Bool {
        preconditionInEventLoop()
        guard state != .closed else { return false }
        return ring.cancel(id)
    }

    /// Cancels every operation on `fd`, e.g. before closing it.
    func cancelOperations(fd: Int32) {
        preconditionInEventLoop()
        guard state != .closed else { return }
        ring.cancelAll(fd: fd)
    }

    /// Whether the backend can perform `operation` on this kernel.
    func supports(_ operation: IOOperation) -> Bool {
        preconditionInEventLoop()
        return state != .closed && ring.supports(operation)
    }

    /// Maps and registers a provided-buffer group of `count` (a power of two)
    /// buffers of `size` bytes, for `IOOperation.receive`.
    func makeBufferRing(count: Int, size: Int) throws(IOError) -> BufferRing {
        preconditionInEventLoop()
        return try BufferRing(on: ring, count: count, size: size)
    }

    /// Unregisters a buffer group once no operation can pick from it.
    func releaseBufferRing(_ buffers: BufferRing) {
        preconditionInEventLoop()
        buffers.unregister(from: ring)
    }

    /// Operations submitted and not yet finished (tests assert it drops to 0).
    package var inFlightOperations: Int {
        preconditionInEventLoop()
        return ring.liveOperations
    }

    /// Whether the ring defers its task work to the loop thread (DEFER_TASKRUN).
    package var usesDeferredTaskRun: Bool { ring.usesDeferredTaskRun }

    /// Times the loop found the CQ overflowed and had the kernel flush it.
    package var ringOverflowFlushes: Int {
        preconditionInEventLoop()
        return ring.overflowFlushes
    }

    /// `io_uring_enter` calls made so far (benchmarks: submissions per tick).
    package var ringEnterCount: Int {
        preconditionInEventLoop()
        return ring.submitCalls
    }
}
