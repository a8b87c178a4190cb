/// The ring as the I/O layers see it: submit an operation with a handler,
/// cancel it, count what is in flight. Loop thread only.
extension EventLoop {
    /// Prepares an io_uring operation, submitted with the rest of this tick's
    /// SQEs. `handler` keeps everything the kernel may touch alive until the
    /// operation's final CQE, which it receives on this thread.
    ///
    /// - Throws: `RingLoopError.shutDown` once the loop is closing; the caller
    ///   then completes its work with that error (and closes fds synchronously).
    func submitOperation(
        _ handler: CompletionHandler,
        context: UInt64 = 0,
        _ prepare: (SQE) -> Void
    ) throws(RingLoopError) -> OperationID {
        preconditionInEventLoop()
        guard state == .running else { throw .shutDown }
        return ring.submit(handler, context: context, prepare)
    }

    /// Asks the kernel to cancel an operation. Its handler still receives a
    /// final CQE (usually `-ECANCELED`); until then the operation's memory stays
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

    /// Whether the kernel supports an io_uring opcode (`IORING_OP_*`).
    func supportsOperation(_ opcode: Int32) -> Bool {
        preconditionInEventLoop()
        return state != .closed && ring.supports(opcode: opcode)
    }

    /// Operations submitted and not yet finished (tests assert it drops to 0).
    package var inFlightOperations: Int {
        preconditionInEventLoop()
        return ring.operations.live
    }

    /// Whether the ring runs with `IORING_SETUP_DEFER_TASKRUN`.
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
