/// The backend as the I/O layers see it: submit an operation with a handler,
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
        return backend.submit(operation, options: options, handler: handler, context: context)
    }

    /// Asks the kernel to cancel an operation. Its handler still receives a
    /// final completion (usually `.cancelled`); until then the operation's memory stays
    /// owned. Returns false if the operation had already finished.
    @discardableResult
    func cancelOperation(_ id: OperationID) -> Bool {
        preconditionInEventLoop()
        guard state != .closed else { return false }
        return backend.cancel(id)
    }

    /// Cancels every operation on `fd`, e.g. before closing it.
    func cancelOperations(fd: Int32) {
        preconditionInEventLoop()
        guard state != .closed else { return }
        backend.cancelAll(fd: fd)
    }

    /// Whether the backend can perform `operation` on this kernel.
    func supports(_ operation: IOOperation) -> Bool {
        preconditionInEventLoop()
        return state != .closed && backend.supports(operation)
    }

    /// Maps and registers a provided-buffer group of `count` (a power of two)
    /// buffers of `size` bytes, for `IOOperation.receive`.
    /// On epoll: a plain pool with the same ids and the same `ENOBUFS`.
    /// - Throws: `BackendCallFailure` naming the call that failed.
    func makeBufferRing(count: Int, size: Int) throws(BackendCallFailure) -> ProvidedBuffers {
        preconditionInEventLoop()
        switch backend {
        case let .ioUring(ring):
            return .ring(try BufferRing(on: ring, count: count, size: size))
        case let .epoll(epoll):
            let (group, pool) = try epoll.makeBufferPool(count: count, size: size)
            return .pool(pool, group: group)
        }
    }

    /// Unregisters a buffer group once no operation can pick from it.
    func releaseBufferRing(_ buffers: ProvidedBuffers) {
        preconditionInEventLoop()
        switch (buffers, backend) {
        case let (.ring(buffers), .ioUring(ring)): buffers.unregister(from: ring)
        case let (.pool(_, group), .epoll(epoll)): epoll.releaseBufferPool(group: group)
        default: break
        }
    }

    /// Operations submitted and not yet finished (tests assert it drops to 0).
    package var inFlightOperations: Int {
        preconditionInEventLoop()
        return backend.liveOperations
    }

    /// The kernel interface this loop performs its I/O with.
    public var ioBackend: Backend { backend.kind }

    /// Whether the ring defers its task work to the loop thread
    /// (DEFER_TASKRUN); false on epoll.
    package var usesDeferredTaskRun: Bool { backend.ring?.usesDeferredTaskRun ?? false }

    /// Times the loop found the CQ overflowed and had the kernel flush it
    /// (always 0 on epoll, which has no completion queue).
    package var ringOverflowFlushes: Int {
        preconditionInEventLoop()
        return backend.ring?.overflowFlushes ?? 0
    }

    /// Operations submitted so far (SQEs prepared on io_uring).
    package var submissionCount: Int {
        preconditionInEventLoop()
        switch backend {
        case let .ioUring(ring): return ring.preparedSQEs
        case let .epoll(epoll): return epoll.submissions
        }
    }

    /// `io_uring_enter` calls made so far (benchmarks: submissions per tick);
    /// on epoll, `epoll_wait` calls.
    package var ringEnterCount: Int {
        preconditionInEventLoop()
        switch backend {
        case let .ioUring(ring): return ring.submitCalls
        case let .epoll(epoll): return epoll.waitCalls
        }
    }
}
