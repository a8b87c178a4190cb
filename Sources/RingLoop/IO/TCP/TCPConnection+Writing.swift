/// Writing: the public write calls, on the decisions of `outbound` and the
/// bytes of `staging`.
extension TCPConnection {
    /// Sends `bytes`; the future succeeds once the kernel has taken all of
    /// them. Safe from any thread.
    ///
    /// Fails with `IOError` (`.connectionReset`, `.brokenPipe`…), with
    /// `IOError` `.brokenPipe` after `shutdownOutput()`, or with
    /// `RingLoopError.closed` if the connection closes first.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Future<Void> {
        let future = Future<Void>(eventLoop: eventLoop)
        if eventLoop.inEventLoop {
            enqueue(.bytes(bytes), count: bytes.count, completion: .future(future))
        } else {
            eventLoop.execute { self.enqueue(.bytes(bytes), count: bytes.count, completion: .future(future)) }
        }
        return future
    }

    /// Sends several buffers in order, gathered into vectored sends; the future
    /// succeeds once all are sent. Safe from any thread.
    @discardableResult
    public func write(contentsOf chunks: [[UInt8]]) -> Future<Void> {
        let future = Future<Void>(eventLoop: eventLoop)
        let body: @Sendable () -> Void = { self.enqueue(chunks, completion: .future(future)) }
        if eventLoop.inEventLoop { body() } else { eventLoop.execute(body) }
        return future
    }

    /// Sends `bytes`, returning once the kernel has taken all of them.
    ///
    /// Cancelling the task cancels the send (see the type's notes).
    /// - Throws: `IOError` (`.connectionReset`, `.brokenPipe`…),
    ///   `CancellationError`, `RingLoopError.closed`, `RingLoopError.shutDown`.
    public func write(_ bytes: [UInt8]) async throws {
        try await eventLoop.awaitOperation { (waiter: AsyncWaiter<Void>) in
            self.enqueue(.bytes(bytes), count: bytes.count, completion: .waiter(waiter))
        }
    }

    /// Sends several buffers in order (vectored), returning once all are sent.
    /// - Throws: as `write(_:)`.
    public func write(contentsOf chunks: [[UInt8]]) async throws {
        try await eventLoop.awaitOperation { (waiter: AsyncWaiter<Void>) in
            self.enqueue(chunks, completion: .waiter(waiter))
        }
    }

    /// Copies `bytes` into the connection's send queue and sends them, with no
    /// completion to allocate: the zero-allocation path for handlers. Loop
    /// thread only. Bytes a handler is being handed (or part of them) may be
    /// sent straight from their receive buffer instead, when nothing else is
    /// queued: the caller sees no difference (see `TCPConnection+Lending.swift`). A failure is reported to the handler's
    /// `connection(_:didFailWith:)`; watch `isWritable` to bound the queue.
    public func write(copying bytes: UnsafeRawBufferPointer) {
        eventLoop.preconditionInEventLoop()
        guard bytes.count > 0, let base = bytes.baseAddress else { return }
        if let error = writeRefusal {
            reportFailure(error)
            return
        }
        if deliveredBuffer != nil, sendFromDeliveredBuffer(base, count: bytes.count) { return }
        let offset = staging.append(base, count: bytes.count, sendInFlight: sendID != nil)
        outbound.enqueueStaged(offset: offset, count: bytes.count)
        updateWritability()
        startSend()
    }

    /// Whether the queued unsent bytes are below the high watermark. Loop thread only.
    public var isWritable: Bool {
        eventLoop.preconditionInEventLoop()
        return outbound.isWritable
    }

    /// Bytes queued and not yet taken by the kernel. Loop thread only.
    public var pendingWriteBytes: Int {
        eventLoop.preconditionInEventLoop()
        return outbound.queuedBytes
    }

    /// Half-closes: once the writes queued before it are sent, shuts down the
    /// sending side (the peer reads EOF); receiving goes on. Safe from any thread.
    @discardableResult
    public func shutdownOutput() -> Future<Void> {
        let future = Future<Void>(eventLoop: eventLoop)
        if eventLoop.inEventLoop {
            enqueue(.shutdown, count: 0, completion: .future(future))
        } else {
            eventLoop.execute { self.enqueue(.shutdown, count: 0, completion: .future(future)) }
        }
        return future
    }

    /// Half-closes after the queued writes; see `shutdownOutput() -> Future<Void>`.
    /// - Throws: `IOError` from `shutdown`, `RingLoopError.closed`, `CancellationError`.
    public func shutdownOutput() async throws {
        try await eventLoop.awaitOperation { (waiter: AsyncWaiter<Void>) in
            self.enqueue(.shutdown, count: 0, completion: .waiter(waiter))
        }
    }

    // MARK: Queueing

    /// Why a write cannot be queued now (nil: it can).
    var writeRefusal: (any Error)? {
        if lifecycle != .open || closeWhenFlushed { return RingLoopError.closed(operation: "write") }
        return outbound.refusal
    }

    /// Queues `chunks` as one write (the empty ones dropped): `completion`
    /// runs once, when the last of them is sent or the write fails.
    func enqueue(_ chunks: [[UInt8]], completion: WriteCompletion) {
        let nonEmpty = chunks.filter { !$0.isEmpty }
        var offset = 0
        for (i, chunk) in nonEmpty.enumerated() {
            enqueue(.bytes(chunk), count: chunk.count, completion: completion, last: i == nonEmpty.count - 1, writeOffset: offset)
            offset += chunk.count
        }
        if nonEmpty.isEmpty { enqueue(.bytes([]), count: 0, completion: completion) }
    }

    /// Queues one buffer (or a shutdown) of a write (`last`: the buffer that
    /// completes it, `writeOffset`: its position in the write) and starts
    /// sending; fails `completion` at once if the output is closed or the
    /// queue refuses it.
    func enqueue(
        _ payload: OutboundQueue<WriteCompletion>.Payload, count: Int, completion: WriteCompletion,
        last: Bool = true, writeOffset: Int = 0
    ) {
        if lifecycle != .open || closeWhenFlushed {
            let operation = if case .shutdown = payload { "shutdownOutput" } else { "write" }
            complete(completion, .failure(RingLoopError.closed(operation: operation)))
            return
        }
        if let outcome = outbound.enqueue(payload, count: count, completion: completion, last: last, writeOffset: writeOffset) {
            complete(outcome.completion, outcome.result)
            return
        }
        if case let .waiter(waiter) = completion, waiter.onCancel == nil {
            waiter.answersAtCompletion = true
            waiter.onCancel = { [self] in cancelWrite(waiter) }
        }
        updateWritability()
        startSend()
    }

    func complete(_ completion: WriteCompletion, _ result: Result<Void, any Error>) {
        switch completion {
        case let .future(future): future._setResult(result)
        case let .waiter(waiter): waiter.resume(result)
        }
    }

    func complete(_ outcomes: [OutboundQueue<WriteCompletion>.Outcome]) {
        for outcome in outcomes { complete(outcome.completion, outcome.result) }
    }

    /// A task awaiting a write was cancelled: a write the kernel has not
    /// been handed fails with `CancellationError` now; one the in-flight send
    /// covers is settled when the send completes (success, `PartialWriteError`,
    /// or `CancellationError` if nothing of it went out).
    private func cancelWrite(_ waiter: AsyncWaiter<Void>) {
        let cancellation = outbound.cancel(where: {
            if case let .waiter(w) = $0 { return w === waiter }
            return false
        })
        guard cancellation.found else {
            waiter.resume(.failure(CancellationError()))
            return
        }
        if cancellation.cancelSend { cancelSend() }
        complete(cancellation.outcomes)
        if cancellation.untracked { reportFailure(RingLoopError.writeCancelledMidway(operation: "send")) }
        updateWritability()
    }

    /// The output can no longer be used: fail every queued write with `error`.
    func breakOutput(_ error: any Error) {
        let (outcomes, untracked) = outbound.fail(error)
        complete(outcomes)
        if untracked { reportFailure(error) }
    }

    func reportFailure(_ error: any Error) {
        if let handler, lifecycle == .open {
            handler.connection(self, didFailWith: error)
        }
    }

    func updateWritability() {
        guard outbound.updateWritability() else { return }
        if let handler, lifecycle == .open {
            handler.connectionWritabilityDidChange(self)
        }
    }

    // MARK: Sending

    /// Starts the next send (or shutdown) if none is in flight.
    func startSend() {
        guard sendID == nil, !inSendCompletion, lifecycle == .open, outbound.canStartSend else { return }
        // The usual queue of a handler's echo: one run of staged bytes.
        if let sole = outbound.soleStagedEntry, let base = staging.pointer(at: sole.start) {
            submitSend(base, count: sole.count)
            return
        }
        if case .shutdown = outbound.entries.first?.payload {
            submitShutdown()
            return
        }
        var pieces = 0
        var first: (UnsafeRawPointer, Int)?
        for entry in outbound.entries {
            guard pieces < TCPConnection.maxIOVecs, let p = pointer(for: entry) else { break }
            if pieces == 0 {
                first = (p, entry.count)
            } else {
                if pieces == 1, let first { vector.setIOVec(0, base: first.0, count: first.1) }
                vector.setIOVec(pieces, base: p, count: entry.count)
            }
            pieces += 1
        }
        guard let first else { return }
        if pieces == 1 {
            submitSend(first.0, count: first.1)
        } else {
            submitSendMessage(vector.prepare(iovecs: pieces), covering: pieces)
        }
    }

    /// Where an entry's unsent bytes start; nil for a shutdown marker.
    private func pointer(for entry: OutboundQueue<WriteCompletion>.Entry) -> UnsafeRawPointer? {
        switch entry.payload {
        case let .bytes(array):
            // The array's storage is kept alive, unmutated, by this entry (and
            // so by the connection, the send's completion handler) until the
            // send's final CQE.
            guard let base = array.withUnsafeBytes({ $0.baseAddress }) else { return nil }
            return base + entry.start
        case .staged:
            return staging.pointer(at: entry.start)
        case let .lent(base):
            return base + entry.start
        case .shutdown:
            return nil
        }
    }

    /// What a send's completion said.
    enum SendOutcome {
        case sent(Int)
        /// Nothing sent, try again (`-EAGAIN`, `-EINTR`).
        case retry
        /// Cancelled by this connection (a cancelled write, a close).
        case cancelled
        /// Cancelled because the loop is shutting down.
        case shutDown
        case failed(IOError)
    }

    /// What a shutdown's completion said.
    enum ShutdownOutcome {
        case done
        case cancelled
        case shutDown
        case failed(IOError)
    }

    /// The in-flight send finished.
    func sendFinished(_ outcome: SendOutcome) {
        sendEnded()
        switch outcome {
        case let .sent(count) where outbound.holdsOnlyStaged:
            // Staged bytes only: no write to complete, none cancelled.
            var none: [OutboundQueue<WriteCompletion>.Outcome] = []
            _ = outbound.sendCompleted(sent: count, into: &none)
        case let .sent(count):
            // One array reused across sends (taken out while in use, in case
            // a completion re-enters): completing writes allocates nothing.
            var outcomes = completedScratch
            completedScratch = []
            let untracked = outbound.sendCompleted(sent: count, into: &outcomes)
            complete(outcomes)
            outcomes.removeAll(keepingCapacity: true)
            completedScratch = outcomes
            if untracked { reportFailure(RingLoopError.writeCancelledMidway(operation: "send")) }
        case .retry, .cancelled:
            let (outcomes, untracked) = outbound.sendEndedUnsent()
            complete(outcomes)
            if untracked { reportFailure(RingLoopError.writeCancelledMidway(operation: "send")) }
        case .shutDown:
            loopShutDown()
        case let .failed(error):
            breakOutput(error)
        }
        if lentToSend != nil { returnLentBuffer() }
        afterSend()
    }

    /// The in-flight shutdown finished.
    func shutdownFinished(_ outcome: ShutdownOutcome) {
        sendEnded()
        let result: OutboundQueue<WriteCompletion>.ShutdownResult
        switch outcome {
        case .done: result = .done
        case let .failed(error): result = .failed(error)
        case .cancelled, .shutDown: result = .cancelled
        }
        complete(outbound.shutdownCompleted(result, open: lifecycle == .open))
        if case .shutDown = outcome { loopShutDown() }
        afterSend()
    }

    private func sendEnded() {
        sendID = nil
        sendCancelRequested = false
        outbound.sendEnded()
        staging.sendFinished()
        inSendCompletion = true
    }

    private func afterSend() {
        inSendCompletion = false
        compactStaging()
        updateWritability()
        if lifecycle == .open {
            startSend()
            if closeWhenFlushed, outbound.isEmpty, sendID == nil { beginClose() }
        }
        operationFinished()
    }

    /// Reclaims the staging space of sent bytes (no send is in flight here).
    private func compactStaging() {
        guard sendID == nil else { return }
        if let first = outbound.firstStagedOffset {
            let moved = staging.compact(firstLive: first)
            if moved > 0 { outbound.stagedBytesMoved(by: moved) }
        } else {
            staging.drained()
        }
    }
}
