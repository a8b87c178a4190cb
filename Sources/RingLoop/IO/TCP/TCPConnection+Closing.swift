/// Closing: from the first request to the released descriptor.
extension TCPConnection {
    /// How long `close(afterPendingWrites: true)` waits, by default, for the
    /// peer to take the queued writes before it resets the connection.
    public static let defaultFlushTimeout: Duration = .seconds(30)

    /// Closes the connection: cancels what is in flight, fails unsent writes
    /// with `RingLoopError.closed`, and releases the descriptor once the kernel
    /// is done with it. Safe from any thread; idempotent.
    ///
    /// With `afterPendingWrites`, stops reading but sends the queued writes
    /// first, for at most `timeout`: a peer that does not read them by then
    /// gets a reset (RST), the unsent writes fail with `RingLoopError.timedOut`,
    /// and so does the returned future (once the descriptor is released).
    /// If the connection is closed or aborted before the writes went out, it
    /// fails with `RingLoopError.closed`; otherwise it succeeds once the
    /// connection has closed (it is `closeFuture` without `afterPendingWrites`).
    ///
    /// ```swift
    /// connection.close(afterPendingWrites: true, timeout: .seconds(5))
    /// ```
    @discardableResult
    public func close(afterPendingWrites: Bool = false, timeout: Duration = TCPConnection.defaultFlushTimeout) -> Future<Void> {
        guard afterPendingWrites else {
            if eventLoop.inEventLoop {
                requestClose(flushing: nil, timeout: timeout)
            } else {
                eventLoop.execute { self.requestClose(flushing: nil, timeout: timeout) }
            }
            return closeFuture
        }
        let flushed = Future<Void>(eventLoop: eventLoop)
        if eventLoop.inEventLoop {
            requestClose(flushing: flushed, timeout: timeout)
        } else {
            eventLoop.execute { self.requestClose(flushing: flushed, timeout: timeout) }
        }
        return flushed
    }

    /// Closes the connection and waits until its descriptor is released; see
    /// `close(afterPendingWrites:timeout:) -> Future<Void>` (a flush that
    /// timed out is not reported here; the writes it dropped failed).
    public func close(afterPendingWrites: Bool = false, timeout: Duration = TCPConnection.defaultFlushTimeout) async {
        _ = try? await close(afterPendingWrites: afterPendingWrites, timeout: timeout).get()
    }

    /// Connects to `address`, runs `body` with the connection, and closes it
    /// however `body` ends (returns, throws, or its task is cancelled).
    ///
    /// ```swift
    /// let reply = try await TCPConnection.withConnection(to: .loopbackIPv4(port: 8080), on: loop) { connection in
    ///     try await connection.write(Array("ping".utf8))
    ///     return try await connection.read()
    /// }
    /// ```
    /// - Throws: what `connect(to:on:timeout:options:)` or `body` throws.
    public static func withConnection<R>(
        to address: SocketAddress,
        on loop: EventLoop,
        timeout: Duration? = nil,
        options: Options = Options(),
        isolation: isolated (any Actor)? = #isolation,
        _ body: (TCPConnection) async throws -> R
    ) async throws -> R {
        let connection = try await connect(to: address, on: loop, timeout: timeout, options: options)
        return try await connection.withClosing(isolation: isolation, body)
    }

    /// Runs `body` with this connection and closes it however `body` ends:
    /// the scoped form for accepted connections.
    ///
    /// ```swift
    /// for try await connection in listener.connections {
    ///     Task(executorPreference: loop) {
    ///         try await connection.withClosing { connection in
    ///             for try await chunk in connection.inbound { try await connection.write(chunk) }
    ///         }
    ///     }
    /// }
    /// ```
    /// - Throws: what `body` throws.
    public func withClosing<R>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (TCPConnection) async throws -> R
    ) async throws -> R {
        let result: R
        do {
            result = try await body(self)
        } catch {
            await close()
            throw error
        }
        await close()
        return result
    }

    /// Resets the connection: unsent data is discarded and the peer gets RST
    /// (its reads fail with `.connectionReset`). Safe from any thread.
    @discardableResult
    public func abort() -> Future<Void> {
        let body: @Sendable () -> Void = {
            if self.fd >= 0, self.lifecycle == .open { Socket.setAbortiveClose(self.fd) }
            self.requestClose(flushing: nil, timeout: .zero)
        }
        if eventLoop.inEventLoop { body() } else { eventLoop.execute(body) }
        return closeFuture
    }

    /// `flushing`: the future of a close after pending writes.
    private func requestClose(flushing: Future<Void>?, timeout: Duration) {
        if let flushing {
            guard lifecycle != .closed else {
                flushing._setResult(flushTimedOut ? .failure(RingLoopError.timedOut(operation: "close(afterPendingWrites:)")) : .success(()))
                return
            }
            flushFutures.append(flushing)
        }
        guard lifecycle == .open else { return }
        if flushing != nil, !outbound.isEmpty || sendID != nil {
            closeWhenFlushed = true
            cancelReceive()
            if flushTimer == nil {
                flushTimer = eventLoop.scheduleTimer(at: .now() + timeout) { [self] fired in
                    flushTimer = nil
                    if fired { flushDeadlinePassed() }
                }
            }
            return
        }
        beginClose()
    }

    /// The peer did not take the queued writes in time: reset the connection.
    private func flushDeadlinePassed() {
        guard lifecycle == .open else { return }
        flushTimedOut = true
        if fd >= 0 { Socket.setAbortiveClose(fd) }
        breakOutput(RingLoopError.timedOut(operation: "close(afterPendingWrites:)"))
        beginClose()
    }

    func beginClose() {
        guard lifecycle == .open else { return }
        lifecycle = .closing
        if let timer = flushTimer {
            eventLoop.cancelTimer(timer)
            flushTimer = nil
        }
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
        // A flushing close that ends with writes unsent (an abort, a broken
        // output) did not flush.
        let unflushed = !outbound.isEmpty || { if case .failed = outbound.output { return true }; return false }()
        complete(outbound.failAll(RingLoopError.closed(operation: "write")).outcomes)
        if let waiter = input.close() {
            waiter.resume(.failure(RingLoopError.closed(operation: "read")))
        }
        let previous = handler
        handler = nil
        closeFuture._setResult(.success(()))
        let flushResult: Result<Void, any Error>
        if flushTimedOut {
            flushResult = .failure(RingLoopError.timedOut(operation: "close(afterPendingWrites:)"))
        } else if unflushed {
            flushResult = .failure(RingLoopError.closed(operation: "close(afterPendingWrites:)"))
        } else {
            flushResult = .success(())
        }
        let flushed = flushFutures
        flushFutures = []
        for future in flushed { future._setResult(flushResult) }
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
