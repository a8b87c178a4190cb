import DequeModule

/// The receive side of a stream connection as a value: who reads (a handler
/// or the async sequence), the chunks received that nobody could take yet,
/// whether reading is paused, the waiting reader, and how the stream ended.
///
/// It decides what happens to each received chunk and to the end of the
/// stream, and whether a receive should be armed; the owner carries the
/// decisions out (calls the handler, resumes the waiter, cancels the
/// receive). `Waiter` is the suspended async reader (a plain value in tests).
/// Kept chunks are owned copies, so no shared receive buffer is held.
struct InboundBuffer<Waiter> {
    enum Mode {
        case none
        case handler
        case async
    }

    enum End {
        case eof
        case failed(any Error)
    }

    /// Where a received chunk went.
    enum Delivery {
        /// Straight to the handler (the owner calls it with the bytes).
        case handler
        /// To the waiting reader, as this copy.
        case waiter(Waiter, [UInt8])
        /// Kept for later. `stopReceiving`: the async read-ahead is full.
        case kept(stopReceiving: Bool)
        /// The connection is closing: nobody will read it.
        case dropped
    }

    /// What the handler gets next while it drains.
    enum HandlerEvent {
        case chunk([UInt8])
        case end(End)
    }

    /// Bytes the async reader receives ahead of its consumer before receiving stops.
    let readAheadLimit: Int
    private(set) var mode = Mode.none
    private(set) var kept: Deque<[UInt8]> = []
    private(set) var keptBytes = 0
    private(set) var end: End?
    private(set) var endReported = false
    /// Handler paused, or an async read was cancelled: no receive is armed
    /// until reading resumes.
    private(set) var paused = false
    private(set) var waiter: Waiter?

    init(readAheadLimit: Int) {
        self.readAheadLimit = readAheadLimit
    }

    /// Makes the handler the reader; false if a reader is already set.
    mutating func setHandler() -> Bool {
        guard case .none = mode else { return false }
        mode = .handler
        return true
    }

    /// Whether a receive should be armed. `open`: the connection is open and
    /// not closing after its writes.
    func wantsToReceive(open: Bool) -> Bool {
        guard open, end == nil, !paused else { return false }
        switch mode {
        case .none: return false
        case .handler: return kept.isEmpty
        case .async: return waiter != nil || keptBytes < readAheadLimit
        }
    }

    mutating func pause() {
        paused = true
    }

    /// Un-pauses; false if reading was not paused.
    mutating func resume() -> Bool {
        guard paused else { return false }
        paused = false
        return true
    }

    // MARK: Async reader

    /// A chunk, the end, or an error available to an async read without
    /// waiting; nil if it must wait. Makes the async sequence the reader.
    /// `open`: the connection is open.
    mutating func takeReady(open: Bool) -> Result<[UInt8]?, any Error>? {
        switch mode {
        case .handler: return .failure(RingLoopError.alreadyConsumed(operation: "read"))
        case .none: mode = .async
        case .async: break
        }
        if waiter != nil { return .failure(RingLoopError.alreadyConsumed(operation: "read")) }
        if let chunk = kept.popFirst() {
            keptBytes -= chunk.count
            paused = false
            return .success(chunk)
        }
        if let end {
            if endReported { return .success(nil) }
            endReported = true
            switch end {
            case .eof: return .success(nil)
            case let .failed(error): return .failure(error)
            }
        }
        if !open { return .failure(RingLoopError.closed(operation: "read")) }
        return nil
    }

    /// The async reader waits (after `takeReady` returned nil).
    mutating func wait(_ waiter: Waiter) {
        self.waiter = waiter
        paused = false
    }

    /// The waiting reader gave up: forget it and pause. Returns it (to be
    /// resumed with `CancellationError`) if it is the one waiting.
    mutating func cancelWait(where matches: (Waiter) -> Bool) -> Waiter? {
        guard let current = waiter, matches(current) else { return nil }
        waiter = nil
        paused = true
        return current
    }

    // MARK: Receiving

    /// Decides where received `bytes` go. `open`: the connection is open.
    mutating func receive(_ bytes: UnsafeRawBufferPointer, open: Bool) -> Delivery {
        switch mode {
        case .handler where !paused && kept.isEmpty && open:
            return .handler
        case .async where waiter != nil && kept.isEmpty:
            let current = waiter.unsafelyUnwrapped
            waiter = nil
            return .waiter(current, Array(bytes))
        default:
            guard open else { return .dropped }
            kept.append(Array(bytes))
            keptBytes += bytes.count
            if case .async = mode, keptBytes >= readAheadLimit { return .kept(stopReceiving: true) }
            return .kept(stopReceiving: false)
        }
    }

    /// The stream ended (first end wins). Returns the waiter to resume with
    /// the end when it can be reported at once; a handler then drains.
    mutating func finish(_ end: End) -> (waiter: Waiter, result: Result<[UInt8]?, any Error>)? {
        guard self.end == nil else { return nil }
        self.end = end
        guard case .async = mode, let current = waiter, kept.isEmpty else { return nil }
        waiter = nil
        endReported = true
        switch end {
        case .eof: return (current, .success(nil))
        case let .failed(error): return (current, .failure(error))
        }
    }

    /// The next event for an unpaused handler: a kept chunk, then the end
    /// (once). `open`: the connection is open.
    mutating func nextForHandler(open: Bool) -> HandlerEvent? {
        guard case .handler = mode, !paused, open else { return nil }
        if let chunk = kept.popFirst() {
            keptBytes -= chunk.count
            return .chunk(chunk)
        }
        guard let end, !endReported else { return nil }
        endReported = true
        return .end(end)
    }

    /// Whether a handler has kept chunks or an unreported end to drain.
    var handlerHasBacklog: Bool { !kept.isEmpty || (end != nil && !endReported) }

    /// The connection closed: drop what is kept; returns the waiter to fail.
    mutating func close() -> Waiter? {
        kept.removeAll()
        keptBytes = 0
        if case .handler = mode { mode = .none }
        let current = waiter
        waiter = nil
        return current
    }
}
