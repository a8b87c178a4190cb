/// Closing: from the first request to the released descriptor.
extension TCPConnection {
    /// Closes the connection: cancels what is in flight, fails unsent writes
    /// with `RingLoopError.closed`, and releases the descriptor once the kernel
    /// is done with it. With `afterPendingWrites`, stops reading but sends
    /// the queued writes first. Returns `closeFuture`. Safe from any thread;
    /// idempotent.
    @discardableResult
    public func close(afterPendingWrites: Bool = false) -> Future<Void> {
        if eventLoop.inEventLoop {
            requestClose(afterPendingWrites: afterPendingWrites)
        } else {
            eventLoop.execute { self.requestClose(afterPendingWrites: afterPendingWrites) }
        }
        return closeFuture
    }

    /// Closes the connection and waits until its descriptor is released; see
    /// `close(afterPendingWrites:) -> Future<Void>`.
    public func close(afterPendingWrites: Bool = false) async {
        _ = try? await close(afterPendingWrites: afterPendingWrites).get()
    }

    /// Resets the connection: unsent data is discarded and the peer gets RST
    /// (its reads fail with `.connectionReset`). Safe from any thread.
    @discardableResult
    public func abort() -> Future<Void> {
        let body: @Sendable () -> Void = {
            if self.fd >= 0, self.lifecycle == .open { Socket.setAbortiveClose(self.fd) }
            self.requestClose(afterPendingWrites: false)
        }
        if eventLoop.inEventLoop { body() } else { eventLoop.execute(body) }
        return closeFuture
    }

    private func requestClose(afterPendingWrites: Bool) {
        guard lifecycle == .open else { return }
        if afterPendingWrites, !outbound.isEmpty || sendID != nil {
            closeWhenFlushed = true
            cancelReceive()
            return
        }
        beginClose()
    }

    func beginClose() {
        guard lifecycle == .open else { return }
        lifecycle = .closing
        cancelReceive()
        cancelSend()
        operationFinished()
    }

    /// Called whenever an operation ends: completes a close once none is left.
    func operationFinished() {
        guard lifecycle == .closing, receiveID == nil, sendID == nil else { return }
        lifecycle = .closed
        if fd >= 0 {
            Socket.close(fd)
            fd = -1
        }
        complete(outbound.failAll(RingLoopError.closed).outcomes)
        if let waiter = input.close() {
            waiter.resume(.failure(RingLoopError.closed))
        }
        let previous = handler
        handler = nil
        closeFuture._setResult(.success(()))
        previous?.connectionDidClose(self)
    }

    /// The loop is shutting down: nothing more can be submitted. Ends both
    /// directions with `RingLoopError.shutDown` and closes.
    func loopShutDown() {
        endInbound(.failed(RingLoopError.shutDown))
        breakOutput(RingLoopError.shutDown)
        beginClose()
    }
}
