/// Reading: the handler and the async sequence, on the decisions of `input`.
extension TCPConnection {
    // MARK: Callback reading (loop thread only)

    /// Starts delivering inbound events to `handler` (see
    /// `TCPConnectionHandler`). Loop thread only; once per connection, and not
    /// together with `inbound`.
    public func setHandler(_ handler: any TCPConnectionHandler) {
        eventLoop.preconditionInEventLoop()
        guard lifecycle == .open else {
            handler.connection(self, didFailWith: RingLoopError.closed(operation: "setHandler"))
            return
        }
        guard input.setHandler() else {
            handler.connection(self, didFailWith: RingLoopError.alreadyConsumed(operation: "setHandler"))
            return
        }
        self.handler = handler
        armReceiveIfNeeded()
    }

    /// Stops receiving until `resumeReading()`: the kernel operation is
    /// cancelled (a chunk already on its way is kept, not lost) and the peer
    /// is eventually held back by TCP flow control. Loop thread only.
    public func pauseReading() {
        eventLoop.preconditionInEventLoop()
        input.pause()
        cancelReceive()
    }

    /// Resumes receiving after `pauseReading()`; chunks kept meanwhile are
    /// delivered first. Loop thread only.
    public func resumeReading() {
        eventLoop.preconditionInEventLoop()
        guard input.resume() else { return }
        drainToHandler()
        armReceiveIfNeeded()
    }

    // MARK: Async reading

    /// The inbound bytes as an async sequence of chunks, ending (`nil`) at the
    /// peer's EOF and throwing `IOError` `.connectionReset` when the peer resets.
    /// One consumer at a time; not together with `setHandler(_:)`.
    public var inbound: Inbound { Inbound(connection: self) }

    /// The inbound byte stream of a `TCPConnection`; see `TCPConnection.inbound`.
    public struct Inbound: AsyncSequence, Sendable {
        public typealias Element = [UInt8]
        let connection: TCPConnection

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(connection: connection) }

        /// Iterates the chunks; `next()` throws `CancellationError` when its
        /// task is cancelled (the receive is cancelled; no byte is lost: the
        /// next `next()` continues where the stream stands).
        public struct AsyncIterator: AsyncIteratorProtocol {
            let connection: TCPConnection
            public mutating func next() async throws -> [UInt8]? {
                try await connection.nextChunk()
            }
        }
    }

    /// The next chunk of inbound bytes; nil at EOF. Same as iterating `inbound`.
    /// - Throws: `IOError` (`.connectionReset`…), `CancellationError`,
    ///   `RingLoopError.closed` after a local close, `RingLoopError.shutDown`.
    public func read() async throws -> [UInt8]? {
        try await nextChunk()
    }

    /// `read()`, waiting until `deadline` at most: Python's
    /// `await asyncio.wait_for(reader.read(n), timeout)`, or `recv` on a
    /// socket with `settimeout`.
    ///
    /// A read that times out consumed nothing: bytes that arrive later are
    /// kept for the next read, and the connection stays usable. A deadline
    /// already past times out without taking bytes that are waiting.
    /// - Throws: `RingLoopError.timedOut(operation: "read")`, or what
    ///   `read()` throws.
    public func read(deadline: Deadline) async throws -> [UInt8]? {
        try await nextChunk(deadline: deadline)
    }

    /// `read()`, waiting at most `timeout`; see `read(deadline:)`.
    public func read(timeout: Duration) async throws -> [UInt8]? {
        try await nextChunk(deadline: .now() + timeout)
    }

    // MARK: Reading for callback code

    /// `read()` for callback code: the next chunk of inbound bytes, nil at
    /// EOF. Safe from any thread; one reader at a time (a second read waiting
    /// at once fails, as with `inbound`); not together with `setHandler(_:)`.
    public func read() -> Future<[UInt8]?> {
        read(deadline: .distantFuture)
    }

    /// `read(deadline:)` for callback code: Python's `recv` on a socket with
    /// `settimeout`, for a `Future`. The deadline stops the read exactly as
    /// it stops the async form: a read that timed out consumed nothing
    /// (bytes that arrive later are kept for the next read) and the future
    /// fails with `RingLoopError.timedOut(operation: "read")`.
    public func read(deadline: Deadline) -> Future<[UInt8]?> {
        eventLoop.futureOperation(deadline: deadline, operation: "read") { (waiter: AsyncWaiter<[UInt8]?>) in
            self.startRead(waiter)
        }
    }

    /// `read(deadline:)` for callback code, waiting at most `timeout`.
    public func read(timeout: Duration) -> Future<[UInt8]?> {
        read(deadline: .now() + timeout)
    }

    func nextChunk(deadline: Deadline = .distantFuture) async throws -> [UInt8]? {
        // The fast path takes what is kept without waiting; a deadline that
        // has passed goes to the bridge instead, which refuses it untouched.
        if eventLoop.inEventLoop, deadline == .distantFuture || deadline > .now(), let ready = takeReadyChunk() {
            return try ready.get()
        }
        return try await eventLoop.awaitOperation(deadline: deadline, operation: "read") { (waiter: AsyncWaiter<[UInt8]?>) in
            self.startRead(waiter)
        }
    }

    /// A chunk, end or error available without waiting; nil if the reader must wait.
    private func takeReadyChunk() -> Result<[UInt8]?, any Error>? {
        let ready = input.takeReady(open: lifecycle == .open)
        if case .success(.some) = ready { armReceiveIfNeeded() }
        return ready
    }

    private func startRead(_ waiter: AsyncWaiter<[UInt8]?>) {
        if let ready = takeReadyChunk() {
            waiter.resume(ready)
            return
        }
        input.wait(waiter)
        waiter.onCancel = { [self] in cancelRead(waiter) }
        armReceiveIfNeeded()
    }

    private func cancelRead(_ waiter: AsyncWaiter<[UInt8]?>) {
        guard let cancelled = input.cancelWait(where: { $0 === waiter }) else { return }
        cancelled.resume(.failure(CancellationError()))
        cancelReceive()
    }

    // MARK: Receiving

    /// Whether a receive should be armed now.
    var wantsToReceive: Bool {
        input.wantsToReceive(open: lifecycle == .open && !closeWhenFlushed)
    }

    /// Hands received bytes to the reader, or keeps a copy.
    func received(_ bytes: UnsafeRawBufferPointer) {
        switch input.receive(bytes, open: lifecycle == .open) {
        case .handler:
            guard let handler else { return }
            delivering = true
            handler.connection(self, didRead: bytes)
            delivering = false
            // The handler may have resumed reading with chunks still kept.
            if input.handlerHasBacklog { drainToHandler() }
        case let .waiter(waiter, chunk):
            waiter.resume(.success(chunk))
        case .kept(stopReceiving: true):
            cancelReceive()
        case .kept(stopReceiving: false), .dropped:
            break
        }
    }

    /// The stream ended (EOF, or an error): report it to the reader once
    /// what is kept has been taken, and stop receiving.
    func endInbound(_ end: InboundBuffer<AsyncWaiter<[UInt8]?>>.End) {
        guard input.end == nil else { return }
        if let (waiter, result) = input.finish(end) {
            waiter.resume(result)
        } else if case .handler = input.mode {
            drainToHandler()
        }
        cancelReceive()
    }

    /// Delivers kept chunks, then the end, to an unpaused handler.
    func drainToHandler() {
        guard let handler, !delivering else { return }
        delivering = true
        defer { delivering = false }
        while let event = input.nextForHandler(open: lifecycle == .open) {
            switch event {
            case let .chunk(chunk):
                chunk.withUnsafeBytes { handler.connection(self, didRead: $0) }
            case .end(.eof):
                handler.connectionDidReachEOF(self)
            case let .end(.failed(error)):
                handler.connection(self, didFailWith: error)
            }
        }
    }
}
