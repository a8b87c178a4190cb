import DequeModule
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A connected stream socket (TCP, or a Unix domain stream socket) driven by
/// one event loop's ring.
///
/// Two ways to use it, on the same machinery:
///
/// **Async.**
/// ```swift
/// let connection = try await TCPConnection.connect(to: .loopbackIPv4(port: 8080), on: loop)
/// try await connection.write(Array("hello".utf8))
/// for try await chunk in connection.inbound {     // [UInt8] chunks; ends at EOF
///     print(chunk.count)
/// }
/// await connection.close()
/// ```
///
/// **Callbacks and futures** (on the loop thread): `setHandler(_:)` delivers
/// inbound bytes to a `TCPConnectionHandler`; `write(_:) -> Future<Void>`, or
/// `write(copying:)` for zero-allocation writes without a completion.
///
/// **Receiving.** Bytes arrive through the loop's provided-buffer ring,
/// shared by its connections: an idle connection holds no buffer. A handler
/// is served by one multishot receive that stays armed while it reads; the
/// async sequence receives one buffer at a time and reads ahead at most
/// `TCPConnection.readAheadLimit` bytes. A consumer that stops reading stops
/// the re-arming (`pauseReading()` for a handler: what the kernel already
/// received, at most the socket's receive buffer, is kept in owned copies and
/// delivered on `resumeReading()`), so memory per connection stays bounded
/// whatever the peer sends, and no shared buffer is held while nobody reads. EOF ends the
/// inbound sequence (`nil`) or calls `connectionDidReachEOF`; a reset throws /
/// reports `IOError` with `.connectionReset`.
///
/// **Sending.** Writes are queued in order and always complete whole: short
/// sends are resubmitted for the remainder, and queued writes go out together
/// in one vectored `sendmsg`. A write completes once the kernel has taken all
/// of its bytes.
///
/// **Cancellation.** Cancelling a task awaiting a read or write cancels the
/// kernel operation and throws `CancellationError`; buffers stay owned by the
/// connection until the kernel's final completion. A cancelled write that had
/// not started is dropped; one the kernel had partly sent breaks the output
/// (later writes fail with `RingLoopError.writeCancelledMidway`), since the byte stream now
/// has a hole.
///
/// **Closing.** `close()` cancels what is in flight, fails writes not yet
/// sent with `RingLoopError.closed`, and releases the descriptor once the
/// kernel has finished with it. Reads then throw `RingLoopError.closed`.
/// `close(afterPendingWrites: true)` sends what is queued first; `abort()`
/// resets the connection (RST).
///
/// Thread safety: the async methods, the `Future` methods, `close` and `abort`
/// may be called from any thread; methods documented "loop thread only" trap
/// elsewhere.
// Safe to share: every mutable field is touched only on `eventLoop`'s thread
// (cross-thread calls hop there with `execute`); `localAddress` and
// `remoteAddress` are immutable.
public final class TCPConnection: @unchecked Sendable {
    /// Socket options applied when a connection is created.
    public struct Options: Sendable {
        /// `TCP_NODELAY`: send small writes at once instead of coalescing them
        /// (Nagle). Default on. Ignored for Unix domain sockets.
        public var noDelay = true
        /// `SO_KEEPALIVE` with optional idle time, probe interval and count.
        public var keepAlive: KeepAlive?

        public init() {}
    }

    /// TCP keepalive settings (`SO_KEEPALIVE`, `TCP_KEEPIDLE`, `TCP_KEEPINTVL`, `TCP_KEEPCNT`).
    public struct KeepAlive: Sendable, Hashable {
        /// Idle time before the first probe (whole seconds); nil: system default.
        public var idle: Duration?
        /// Time between probes (whole seconds); nil: system default.
        public var interval: Duration?
        /// Unanswered probes before the connection is dropped; nil: system default.
        public var count: Int?

        public init(idle: Duration? = nil, interval: Duration? = nil, count: Int? = nil) {
            self.idle = idle
            self.interval = interval
            self.count = count
        }
    }

    /// Bytes the async `inbound` sequence receives ahead of its consumer
    /// before it stops receiving (it may overshoot by one receive buffer,
    /// 16 KiB). Receiving resumes as soon as the consumer takes a chunk.
    public static let readAheadLimit = 256 * 1024
    /// Queued unsent bytes above which `isWritable` turns false.
    public static let writeHighWatermark = 256 * 1024
    /// Queued unsent bytes at or below which `isWritable` turns true again.
    public static let writeLowWatermark = 64 * 1024
    /// Most buffers gathered into one vectored send.
    static let maxIOVecs = 16

    private enum Context {
        static let receive: UInt64 = 1
        static let send: UInt64 = 2
        static let shutdown: UInt64 = 3
    }

    /// The loop whose ring drives this connection.
    public let eventLoop: EventLoop
    /// The local address, if the socket reported one.
    public let localAddress: SocketAddress?
    /// The peer's address, if the socket reported one (not after a reset).
    public let remoteAddress: SocketAddress?
    /// Succeeds once the connection has closed and its descriptor is released.
    public let closeFuture: Future<Void>

    /// The descriptor; -1 once closed. Owned by this object.
    private var fd: Int32
    private let isTCP: Bool

    private enum Lifecycle { case open, closing, closed }
    private var lifecycle = Lifecycle.open

    // MARK: Read side
    private enum Reader {
        case none
        case handler(any TCPConnectionHandler)
        case async
    }
    private enum InboundEnd {
        case eof
        case failed(any Error)
    }
    private var reader = Reader.none
    private var resources: SocketResources?
    /// Kept for the connection's lifetime: lent buffers are recycled into it.
    private var buffers: ProvidedBuffers?
    private var receiveID: OperationID?
    private var receiveCancelRequested = false
    /// Bytes that arrived while nobody could take them (async read-ahead, or a
    /// paused handler); owned copies, so no shared buffer is held.
    private var kept: Deque<[UInt8]> = []
    private var keptBytes = 0
    private var inboundEnd: InboundEnd?
    private var inboundEndReported = false
    /// Handler paused, or an async read was cancelled: no receive is re-armed
    /// until reading resumes.
    private var readingPaused = false
    private var readWaiter: AsyncWaiter<[UInt8]?>?
    private var delivering = false

    // MARK: Write side
    private enum Payload {
        case bytes([UInt8])
        case staged
        case shutdown
    }
    /// Who learns a write's outcome. A multi-buffer write puts its
    /// completion on every entry, with `last` set on the final one: any
    /// failure fails it (the first outcome wins), success needs the last.
    private enum WriteCompletion {
        case none
        case future(Future<Void>, last: Bool)
        case waiter(AsyncWaiter<Void>, last: Bool)
    }
    private struct PendingWrite {
        var payload: Payload
        /// `.bytes`: offset of the first unsent byte; `.staged`: its offset in
        /// the staging buffer.
        var start: Int
        /// Bytes not yet sent.
        var count: Int
        var completion: WriteCompletion
        var partlySent = false
        /// The caller cancelled while the kernel had it (already resumed).
        var cancelled = false
    }
    private enum Output {
        case open
        case shutdownQueued
        case shutDown
        case failed(any Error)
    }
    private var writes: Deque<PendingWrite> = []
    /// Unsent bytes in `writes`.
    private var queuedBytes = 0
    private var sendID: OperationID?
    private var sendCancelRequested = false
    private var inSendCompletion = false
    private var output = Output.open
    private var writable = true
    private var closeWhenFlushed = false
    /// Bytes written with `write(copying:)`; `.staged` entries point into it.
    private var staging: UnsafeMutableRawPointer?
    private var stagingCapacity = 0
    private var stagingUsed = 0
    private var stagedEntries = 0
    /// The last entry of `writes` is a staged one that ends where the staging
    /// buffer ends, so more staged bytes extend it instead of adding an entry.
    private var tailIsStaged = false
    /// Staging buffers replaced while a send may still read them; freed when
    /// that send completes.
    private var retiredStaging: [UnsafeMutableRawPointer] = []
    /// msghdr + iovecs for vectored sends, allocated on first use.
    private var vector: UnsafeMutableRawPointer?

    // MARK: Creating

    /// Adopts a connected stream socket (TCP or Unix domain). The connection
    /// owns the descriptor from now on and closes it.
    ///
    /// The descriptor should be blocking (no `O_NONBLOCK`): io_uring then waits
    /// for readiness itself. Options are applied to TCP sockets only.
    public convenience init(taking descriptor: FileDescriptor, on eventLoop: EventLoop, options: Options = Options()) {
        self.init(fd: descriptor.rawValue, on: eventLoop, options: options)
    }

    init(fd: Int32, on eventLoop: EventLoop, options: Options) {
        self.eventLoop = eventLoop
        self.fd = fd
        self.closeFuture = Future(eventLoop: eventLoop)
        let local = Socket.localAddress(fd)
        self.localAddress = local
        self.remoteAddress = Socket.remoteAddress(fd)
        self.isTCP = local?.family == .ipv4 || local?.family == .ipv6
        if isTCP {
            if options.noDelay { try? Socket.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1, "setsockopt(TCP_NODELAY)") }
            if let keepAlive = options.keepAlive { try? TCPConnection.apply(keepAlive, to: fd) }
        }
    }

    deinit {
        if fd >= 0 { Socket.close(fd) }
        staging?.deallocate()
        for old in retiredStaging { old.deallocate() }
        vector?.deallocate()
    }

    // MARK: Options (loop thread only)

    /// Turns `TCP_NODELAY` on or off. Loop thread only.
    /// - Throws: `IOError` from `setsockopt`, or `RingLoopError.closed`.
    public func setNoDelay(_ on: Bool) throws {
        eventLoop.preconditionInEventLoop()
        guard fd >= 0 else { throw RingLoopError.closed(operation: "setNoDelay") }
        try Socket.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, on ? 1 : 0, "setsockopt(TCP_NODELAY)")
    }

    /// Turns keepalive on (with the given timing) or off (nil). Loop thread only.
    /// - Throws: `IOError` from `setsockopt`, or `RingLoopError.closed`.
    public func setKeepAlive(_ keepAlive: KeepAlive?) throws {
        eventLoop.preconditionInEventLoop()
        guard fd >= 0 else { throw RingLoopError.closed(operation: "setKeepAlive") }
        if let keepAlive {
            try TCPConnection.apply(keepAlive, to: fd)
        } else {
            try Socket.setOption(fd, SOL_SOCKET, SO_KEEPALIVE, 0, "setsockopt(SO_KEEPALIVE)")
        }
    }

    private static func apply(_ keepAlive: KeepAlive, to fd: Int32) throws(IOError) {
        try Socket.setOption(fd, SOL_SOCKET, SO_KEEPALIVE, 1, "setsockopt(SO_KEEPALIVE)")
        if let idle = keepAlive.idle {
            try Socket.setOption(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, Int32(clamping: max(1, idle.components.seconds)), "setsockopt(TCP_KEEPIDLE)")
        }
        if let interval = keepAlive.interval {
            try Socket.setOption(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL, Int32(clamping: max(1, interval.components.seconds)), "setsockopt(TCP_KEEPINTVL)")
        }
        if let count = keepAlive.count {
            try Socket.setOption(fd, Int32(IPPROTO_TCP), TCP_KEEPCNT, Int32(clamping: max(1, count)), "setsockopt(TCP_KEEPCNT)")
        }
    }

    /// Reads an `int` socket option (tests, diagnostics). Loop thread only.
    package func socketOption(level: Int32, name: Int32) -> Int32? {
        eventLoop.preconditionInEventLoop()
        guard fd >= 0 else { return nil }
        return Socket.getOption(fd, level, name)
    }

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
        guard case .none = reader else {
            handler.connection(self, didFailWith: RingLoopError.alreadyConsumed(operation: "setHandler"))
            return
        }
        reader = .handler(handler)
        armReceiveIfNeeded()
    }

    /// Stops receiving until `resumeReading()`: the kernel operation is
    /// cancelled (a chunk already on its way is kept, not lost) and the peer
    /// is eventually held back by TCP flow control. Loop thread only.
    public func pauseReading() {
        eventLoop.preconditionInEventLoop()
        readingPaused = true
        cancelReceive()
    }

    /// Resumes receiving after `pauseReading()`; chunks kept meanwhile are
    /// delivered first. Loop thread only.
    public func resumeReading() {
        eventLoop.preconditionInEventLoop()
        guard readingPaused else { return }
        readingPaused = false
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

    func nextChunk() async throws -> [UInt8]? {
        if eventLoop.inEventLoop, let ready = takeReadyChunk() {
            return try ready.get()
        }
        return try await eventLoop.awaitOperation { (waiter: AsyncWaiter<[UInt8]?>) in
            self.startRead(waiter)
        }
    }

    /// A chunk, end or error available without waiting; nil if the reader must wait.
    private func takeReadyChunk() -> Result<[UInt8]?, any Error>? {
        switch reader {
        case .handler:
            return .failure(RingLoopError.alreadyConsumed(operation: "read"))
        case .none:
            reader = .async
        case .async:
            break
        }
        if readWaiter != nil { return .failure(RingLoopError.alreadyConsumed(operation: "read")) }
        if let chunk = kept.popFirst() {
            keptBytes -= chunk.count
            readingPaused = false
            armReceiveIfNeeded()
            return .success(chunk)
        }
        if let end = inboundEnd {
            if inboundEndReported { return .success(nil) }
            inboundEndReported = true
            switch end {
            case .eof: return .success(nil)
            case let .failed(error): return .failure(error)
            }
        }
        if lifecycle != .open { return .failure(RingLoopError.closed(operation: "read")) }
        return nil
    }

    private func startRead(_ waiter: AsyncWaiter<[UInt8]?>) {
        if let ready = takeReadyChunk() {
            waiter.resume(ready)
            return
        }
        readWaiter = waiter
        readingPaused = false
        waiter.onCancel = { [self] in cancelRead(waiter) }
        armReceiveIfNeeded()
    }

    private func cancelRead(_ waiter: AsyncWaiter<[UInt8]?>) {
        guard readWaiter === waiter else { return }
        readWaiter = nil
        waiter.resume(.failure(CancellationError()))
        readingPaused = true
        cancelReceive()
    }

    // MARK: Receive machinery

    private var wantsToReceive: Bool {
        guard lifecycle == .open, inboundEnd == nil, !readingPaused, !closeWhenFlushed else { return false }
        switch reader {
        case .none: return false
        case .handler: return kept.isEmpty
        case .async: return readWaiter != nil || keptBytes < TCPConnection.readAheadLimit
        }
    }

    private func armReceiveIfNeeded() {
        guard receiveID == nil, wantsToReceive else { return }
        guard let resources = resources ?? SocketResources.on(eventLoop) else {
            loopShutDown()
            return
        }
        self.resources = resources
        let ring: ProvidedBuffers
        do {
            ring = try buffers ?? resources.bufferRing(on: eventLoop)
        } catch {
            endInbound(.failed(error))
            return
        }
        buffers = ring
        let fd = self.fd
        let group = ring.group
        // A handler consumes each buffer as it arrives: one multishot receive
        // serves it. The async sequence keeps copies for its consumer, so it
        // receives one buffer at a time to stop exactly at its read-ahead
        // limit (a multishot burst could overshoot by the socket's whole
        // receive buffer before a cancel lands).
        var multishot = resources.multishotReceive
        if case .async = reader { multishot = false }
        do {
            receiveID = try eventLoop.submitOperation(
                .receive(fd: fd, bufferGroup: group, multishot: multishot), handler: self, context: Context.receive)
            receiveCancelRequested = false
        } catch {
            loopShutDown()
        }
    }

    private func cancelReceive() {
        guard let id = receiveID, !receiveCancelRequested else { return }
        receiveCancelRequested = true
        eventLoop.cancelOperation(id)
    }

    private func receiveCompleted(_ completion: Completion) {
        let final = !completion.hasMore
        if final {
            receiveID = nil
            receiveCancelRequested = false
        }
        let bufferID = buffers?.take(completion.bufferID)
        if let count = completion.value, count > 0, let bufferID, let buffers {
            deliver(buffers.bytes(bufferID, count: Int(count)))
            buffers.recycle(bufferID)
        } else {
            if let bufferID { buffers?.recycle(bufferID) }
            switch completion.outcome {
            case .success(0):
                endInbound(.eof)
            case .success, .cancelled:
                break
            case .shutDown:
                loopShutDown()
            case let .failure(errno):
                switch errno.rawValue {
                case ENOBUFS, EAGAIN, EINTR:
                    // The shared ring ran dry (buffers come back as their
                    // completions are handled) or a spurious wakeup: nothing
                    // was consumed from the socket; re-armed below.
                    break
                case EINVAL where resources?.multishotReceive == true:
                    resources?.multishotReceive = false
                default:
                    endInbound(.failed(IOError("recv", errno)))
                }
            }
        }
        if final {
            operationFinished()
            armReceiveIfNeeded()
        }
    }

    /// Hands received bytes to the reader, or keeps a copy.
    private func deliver(_ bytes: UnsafeRawBufferPointer) {
        switch reader {
        case let .handler(handler) where !readingPaused && kept.isEmpty && lifecycle == .open:
            delivering = true
            handler.connection(self, didRead: bytes)
            delivering = false
            // The handler may have resumed reading with chunks still kept.
            if !kept.isEmpty || inboundEnd != nil { drainToHandler() }
        case .async where readWaiter != nil && kept.isEmpty:
            let waiter = readWaiter
            readWaiter = nil
            waiter?.resume(.success(Array(bytes)))
        default:
            guard lifecycle == .open else { return }
            kept.append(Array(bytes))
            keptBytes += bytes.count
            if case .async = reader, keptBytes >= TCPConnection.readAheadLimit {
                cancelReceive()
            }
        }
    }

    private func endInbound(_ end: InboundEnd) {
        guard inboundEnd == nil else { return }
        inboundEnd = end
        switch reader {
        case .handler:
            drainToHandler()
        case .async:
            if let waiter = readWaiter, kept.isEmpty {
                readWaiter = nil
                inboundEndReported = true
                switch end {
                case .eof: waiter.resume(.success(nil))
                case let .failed(error): waiter.resume(.failure(error))
                }
            }
        case .none:
            break
        }
        cancelReceive()
    }

    /// Delivers kept chunks, then the end, to an unpaused handler.
    private func drainToHandler() {
        guard case let .handler(handler) = reader, !delivering else { return }
        delivering = true
        defer { delivering = false }
        while !readingPaused, lifecycle == .open, let chunk = kept.popFirst() {
            keptBytes -= chunk.count
            chunk.withUnsafeBytes { handler.connection(self, didRead: $0) }
        }
        guard !readingPaused, lifecycle == .open, kept.isEmpty, let end = inboundEnd, !inboundEndReported else { return }
        inboundEndReported = true
        switch end {
        case .eof: handler.connectionDidReachEOF(self)
        case let .failed(error): handler.connection(self, didFailWith: error)
        }
    }

    // MARK: Writing

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
            enqueue(.bytes(bytes), count: bytes.count, completion: .future(future, last: true))
        } else {
            eventLoop.execute { self.enqueue(.bytes(bytes), count: bytes.count, completion: .future(future, last: true)) }
        }
        return future
    }

    /// Sends several buffers in order, gathered into vectored sends; the future
    /// succeeds once all are sent. Safe from any thread.
    @discardableResult
    public func write(contentsOf chunks: [[UInt8]]) -> Future<Void> {
        let future = Future<Void>(eventLoop: eventLoop)
        let body: @Sendable () -> Void = {
            let nonEmpty = chunks.filter { !$0.isEmpty }
            for (i, chunk) in nonEmpty.enumerated() {
                self.enqueue(.bytes(chunk), count: chunk.count, completion: .future(future, last: i == nonEmpty.count - 1))
            }
            if nonEmpty.isEmpty { self.enqueue(.bytes([]), count: 0, completion: .future(future, last: true)) }
        }
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
            self.enqueue(.bytes(bytes), count: bytes.count, completion: .waiter(waiter, last: true))
        }
    }

    /// Sends several buffers in order (vectored), returning once all are sent.
    /// - Throws: as `write(_:)`.
    public func write(contentsOf chunks: [[UInt8]]) async throws {
        try await eventLoop.awaitOperation { (waiter: AsyncWaiter<Void>) in
            let nonEmpty = chunks.filter { !$0.isEmpty }
            for (i, chunk) in nonEmpty.enumerated() {
                self.enqueue(.bytes(chunk), count: chunk.count, completion: .waiter(waiter, last: i == nonEmpty.count - 1))
            }
            if nonEmpty.isEmpty { self.enqueue(.bytes([]), count: 0, completion: .waiter(waiter, last: true)) }
        }
    }

    /// Copies `bytes` into the connection's send queue and sends them, with no
    /// completion to allocate: the zero-allocation path for handlers. Loop
    /// thread only. A failure is reported to the handler's
    /// `connection(_:didFailWith:)`; watch `isWritable` to bound the queue.
    public func write(copying bytes: UnsafeRawBufferPointer) {
        eventLoop.preconditionInEventLoop()
        guard bytes.count > 0, let base = bytes.baseAddress else { return }
        if let error = writeRefusal() {
            reportFailure(error)
            return
        }
        let offset = stage(base, count: bytes.count)
        if tailIsStaged, !writes.isEmpty {
            writes[writes.count - 1].count += bytes.count
        } else {
            writes.append(PendingWrite(payload: .staged, start: offset, count: bytes.count, completion: .none))
            stagedEntries += 1
            tailIsStaged = true
        }
        queuedBytes += bytes.count
        updateWritability()
        startSend()
    }

    /// Whether the queued unsent bytes are below the high watermark. Loop thread only.
    public var isWritable: Bool {
        eventLoop.preconditionInEventLoop()
        return writable
    }

    /// Bytes queued and not yet taken by the kernel. Loop thread only.
    public var pendingWriteBytes: Int {
        eventLoop.preconditionInEventLoop()
        return queuedBytes
    }

    /// Half-closes: once the writes queued before it are sent, shuts down the
    /// sending side (the peer reads EOF); receiving goes on. Safe from any thread.
    @discardableResult
    public func shutdownOutput() -> Future<Void> {
        let future = Future<Void>(eventLoop: eventLoop)
        if eventLoop.inEventLoop {
            enqueue(.shutdown, count: 0, completion: .future(future, last: true))
        } else {
            eventLoop.execute { self.enqueue(.shutdown, count: 0, completion: .future(future, last: true)) }
        }
        return future
    }

    /// Half-closes after the queued writes; see `shutdownOutput() -> Future<Void>`.
    /// - Throws: `IOError` from `shutdown`, `RingLoopError.closed`, `CancellationError`.
    public func shutdownOutput() async throws {
        try await eventLoop.awaitOperation { (waiter: AsyncWaiter<Void>) in
            self.enqueue(.shutdown, count: 0, completion: .waiter(waiter, last: true))
        }
    }

    private func writeRefusal() -> (any Error)? {
        if lifecycle != .open || closeWhenFlushed { return RingLoopError.closed(operation: "write") }
        switch output {
        case .open: return nil
        case .shutdownQueued, .shutDown: return IOError("send", .brokenPipe)
        case let .failed(error): return error
        }
    }

    private func enqueue(_ payload: Payload, count: Int, completion: WriteCompletion) {
        if let error = writeRefusal() {
            complete(completion, .failure(error))
            return
        }
        if count == 0, case .bytes = payload {
            complete(completion, .success(()))
            return
        }
        if case .shutdown = payload { output = .shutdownQueued }
        writes.append(PendingWrite(payload: payload, start: 0, count: count, completion: completion))
        tailIsStaged = false
        if case let .waiter(waiter, _) = completion, waiter.onCancel == nil {
            waiter.onCancel = { [self] in cancelWrite(waiter) }
        }
        queuedBytes += count
        updateWritability()
        startSend()
    }

    private func complete(_ completion: WriteCompletion, _ result: Result<Void, any Error>) {
        switch (completion, result) {
        case (.none, _), (.future(_, last: false), .success), (.waiter(_, last: false), .success):
            break
        case let (.future(future, _), _):
            future._setResult(result)
        case let (.waiter(waiter, _), _):
            waiter.resume(result)
        }
    }

    /// A task awaiting a write was cancelled: drop its buffers the kernel has
    /// not started on; cancel the send that holds them; a write already partly
    /// sent (by an earlier send) breaks the output.
    private func cancelWrite(_ waiter: AsyncWaiter<Void>) {
        let matches = writes.indices.filter {
            if case let .waiter(w, _) = writes[$0].completion { return w === waiter }
            return false
        }
        guard !matches.isEmpty else { return }
        waiter.resume(.failure(CancellationError()))
        var cancelSend = false
        var broken = false
        for index in matches.reversed() {
            let inFlight = sendID != nil && index < sendCoverage
            if !inFlight && !writes[index].partlySent {
                let removed = writes.remove(at: index)
                queuedBytes -= removed.count
                if case .staged = removed.payload { stagedEntries -= 1 }
                if case .shutdown = removed.payload { output = .open }
            } else {
                writes[index].cancelled = true
                writes[index].completion = .none
                if inFlight { cancelSend = true } else { broken = true }
            }
        }
        if cancelSend, let id = sendID, !sendCancelRequested {
            sendCancelRequested = true
            eventLoop.cancelOperation(id)
        }
        if broken { breakOutput(RingLoopError.writeCancelledMidway(operation: "send")) }
        updateWritability()
    }

    /// Entries the in-flight send covers.
    private var sendCoverage = 0

    private func startSend() {
        guard sendID == nil, !inSendCompletion, lifecycle == .open, let head = writes.first else { return }
        if case .failed = output { return }
        let fd = self.fd
        do {
            if case .shutdown = head.payload {
                sendCoverage = 1
                sendID = try eventLoop.submitOperation(
                    .shutdown(fd: fd, how: Int32(SHUT_WR)), handler: self, context: Context.shutdown)
                sendCancelRequested = false
                return
            }
            var pieces = 0
            var first: (UnsafeRawPointer, Int)?
            for entry in writes {
                guard pieces < TCPConnection.maxIOVecs, let p = pointer(for: entry) else { break }
                if pieces == 0 {
                    first = (p, entry.count)
                } else {
                    if pieces == 1, let first { setIOVec(0, first.0, first.1) }
                    setIOVec(pieces, p, entry.count)
                }
                pieces += 1
            }
            guard pieces > 0, let first else { return }
            sendCoverage = pieces
            if pieces == 1 {
                sendID = try eventLoop.submitOperation(
                    .send(fd: fd, buffer: first.0, count: first.1), handler: self, context: Context.send)
            } else {
                let message = messageHeader(iovecs: pieces)
                sendID = try eventLoop.submitOperation(
                    .sendMessage(fd: fd, message: message), handler: self, context: Context.send)
            }
            sendCancelRequested = false
        } catch {
            sendCoverage = 0
            loopShutDown()
        }
    }

    /// Where an entry's unsent bytes start; nil for a shutdown marker.
    private func pointer(for entry: PendingWrite) -> UnsafeRawPointer? {
        switch entry.payload {
        case let .bytes(array):
            // The array's storage is kept alive, unmutated, by this entry (and
            // so by the connection, the send's completion handler) until the
            // send's final CQE.
            guard let base = array.withUnsafeBytes({ $0.baseAddress }) else { return nil }
            return base + entry.start
        case .staged:
            guard let staging else { return nil }
            return UnsafeRawPointer(staging + entry.start)
        case .shutdown:
            return nil
        }
    }

    private var vectorStorage: UnsafeMutableRawPointer {
        if let vector { return vector }
        let bytes = MemoryLayout<msghdr>.stride + TCPConnection.maxIOVecs * MemoryLayout<iovec>.stride
        let made = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)
        vector = made
        return made
    }

    private func setIOVec(_ index: Int, _ base: UnsafeRawPointer, _ count: Int) {
        let iov = (vectorStorage + MemoryLayout<msghdr>.stride).assumingMemoryBound(to: iovec.self)
        iov[index] = iovec(iov_base: UnsafeMutableRawPointer(mutating: base), iov_len: count)
    }

    private func messageHeader(iovecs: Int) -> UnsafeMutablePointer<msghdr> {
        let storage = vectorStorage
        let message = storage.assumingMemoryBound(to: msghdr.self)
        var header = msghdr()
        header.msg_iov = (storage + MemoryLayout<msghdr>.stride).assumingMemoryBound(to: iovec.self)
        header.msg_iovlen = iovecs
        message.pointee = header
        return message
    }

    private func sendCompleted(_ completion: Completion, isShutdown: Bool) {
        sendID = nil
        sendCoverage = 0
        sendCancelRequested = false
        if !retiredStaging.isEmpty {
            for old in retiredStaging { old.deallocate() }
            retiredStaging.removeAll(keepingCapacity: true)
        }
        inSendCompletion = true
        if isShutdown {
            if case .shutdown = writes.first?.payload {
                let entry = writes.removeFirst()
                if case .success = completion.outcome {
                    output = .shutDown
                    complete(entry.completion, .success(()))
                } else if case let .failure(errno) = completion.outcome {
                    output = .shutDown
                    complete(entry.completion, .failure(IOError("shutdown", errno)))
                } else if lifecycle != .open {
                    complete(entry.completion, .failure(RingLoopError.closed(operation: "shutdownOutput")))
                } else if entry.cancelled {
                    output = .open
                } else {
                    writes.prepend(entry)
                }
            }
            if case .shutDown = completion.outcome { loopShutDown() }
        } else {
            switch completion.outcome {
            case let .success(sent):
                consume(Int(sent))
            case .shutDown:
                loopShutDown()
            case .cancelled:
                if lifecycle == .open { dropCancelledWrites() }
            case let .failure(errno):
                switch errno.rawValue {
                case EAGAIN, EINTR: break
                default: breakOutput(IOError("send", errno))
                }
            }
        }
        inSendCompletion = false
        compactStaging()
        updateWritability()
        if lifecycle == .open {
            startSend()
            if closeWhenFlushed, writes.isEmpty, sendID == nil { beginClose() }
        }
        operationFinished()
    }

    /// Takes `sent` bytes off the head of the queue, completing whole writes.
    private func consume(_ sent: Int) {
        var left = sent
        while left > 0, let head = writes.first {
            if case .shutdown = head.payload { break }
            if left >= head.count {
                left -= head.count
                queuedBytes -= head.count
                writes.removeFirst()
                if writes.isEmpty { tailIsStaged = false }
                if case .staged = head.payload { stagedEntries -= 1 }
                complete(head.completion, .success(()))
            } else {
                writes[0].start += left
                writes[0].count -= left
                writes[0].partlySent = true
                queuedBytes -= left
                left = 0
            }
        }
    }

    /// After a send the caller cancelled came back cancelled: writes the
    /// kernel never started are dropped; a partly sent one breaks the output.
    private func dropCancelledWrites() {
        if writes.contains(where: { $0.cancelled && $0.partlySent }) {
            breakOutput(RingLoopError.writeCancelledMidway(operation: "send"))
            return
        }
        var index = 0
        while index < writes.count {
            if writes[index].cancelled {
                let removed = writes.remove(at: index)
                queuedBytes -= removed.count
                if case .staged = removed.payload { stagedEntries -= 1 }
                if case .shutdown = removed.payload { output = .open }
            } else {
                index += 1
            }
        }
    }

    /// The output can no longer be used: fail every queued write with `error`.
    private func breakOutput(_ error: any Error) {
        if case .failed = output {} else { output = .failed(error) }
        failQueuedWrites(error)
    }

    private func failQueuedWrites(_ error: any Error) {
        var reportToHandler = false
        while let entry = writes.popFirst() {
            if case .none = entry.completion, !entry.cancelled { reportToHandler = true }
            complete(entry.completion, .failure(error))
        }
        queuedBytes = 0
        stagedEntries = 0
        tailIsStaged = false
        if reportToHandler && lifecycle == .open { reportFailure(error) }
    }

    private func reportFailure(_ error: any Error) {
        if case let .handler(handler) = reader, lifecycle == .open {
            handler.connection(self, didFailWith: error)
        }
    }

    private func updateWritability() {
        if writable, queuedBytes > TCPConnection.writeHighWatermark {
            writable = false
        } else if !writable, queuedBytes <= TCPConnection.writeLowWatermark {
            writable = true
        } else {
            return
        }
        if case let .handler(handler) = reader, lifecycle == .open {
            handler.connectionWritabilityDidChange(self)
        }
    }

    // MARK: Staging buffer

    /// Copies `count` bytes to the end of the staging buffer; returns their offset.
    private func stage(_ bytes: UnsafeRawPointer, count: Int) -> Int {
        let buffer: UnsafeMutableRawPointer
        if let staging, stagingUsed + count <= stagingCapacity {
            buffer = staging
        } else {
            let capacity = max(stagingCapacity * 2, stagingUsed + count, 4096)
            buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
            if let staging {
                buffer.copyMemory(from: staging, byteCount: stagingUsed)
                if sendID != nil {
                    // The in-flight send may point into the old buffer.
                    retiredStaging.append(staging)
                } else {
                    staging.deallocate()
                }
            }
            staging = buffer
            stagingCapacity = capacity
        }
        let offset = stagingUsed
        (buffer + offset).copyMemory(from: bytes, byteCount: count)
        stagingUsed += count
        return offset
    }

    /// Reclaims the staging space of sent bytes (no send is in flight here).
    private func compactStaging() {
        guard sendID == nil, let staging else { return }
        guard stagedEntries > 0, let first = writes.first(where: { if case .staged = $0.payload { return true }; return false }) else {
            stagingUsed = 0
            return
        }
        let dead = first.start
        let live = stagingUsed - dead
        // Move only when the move costs no more than the space it frees.
        guard dead > 0, live <= dead else { return }
        staging.copyMemory(from: staging + dead, byteCount: live)
        stagingUsed = live
        for index in writes.indices {
            if case .staged = writes[index].payload { writes[index].start -= dead }
        }
    }

    // MARK: Closing

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
        if afterPendingWrites, !writes.isEmpty || sendID != nil {
            closeWhenFlushed = true
            cancelReceive()
            return
        }
        beginClose()
    }

    private func beginClose() {
        guard lifecycle == .open else { return }
        lifecycle = .closing
        cancelReceive()
        if let id = sendID, !sendCancelRequested {
            sendCancelRequested = true
            eventLoop.cancelOperation(id)
        }
        operationFinished()
    }

    /// Called whenever an operation ends: completes a close once none is left.
    private func operationFinished() {
        guard lifecycle == .closing, receiveID == nil, sendID == nil else { return }
        lifecycle = .closed
        if fd >= 0 {
            Socket.close(fd)
            fd = -1
        }
        failQueuedWrites(RingLoopError.closed(operation: "write"))
        kept.removeAll()
        keptBytes = 0
        if let waiter = readWaiter {
            readWaiter = nil
            waiter.resume(.failure(RingLoopError.closed(operation: "read")))
        }
        let previous = reader
        if case .handler = reader { reader = .none }
        closeFuture._setResult(.success(()))
        if case let .handler(handler) = previous { handler.connectionDidClose(self) }
    }

    /// The loop is shutting down: nothing more can be submitted. Ends both
    /// directions with `RingLoopError.shutDown` and closes.
    private func loopShutDown() {
        endInbound(.failed(RingLoopError.shutDown))
        breakOutput(RingLoopError.shutDown)
        beginClose()
    }

    // MARK: Introspection (tests)

    /// Bytes received and kept for a consumer that has not taken them. Loop thread only.
    package var bufferedInboundBytes: Int {
        eventLoop.preconditionInEventLoop()
        return keptBytes
    }

    /// Whether a task is suspended in `read()`/`inbound`. Loop thread only.
    package var hasPendingRead: Bool {
        eventLoop.preconditionInEventLoop()
        return readWaiter != nil
    }

    /// Whether a receive operation is armed. Loop thread only.
    package var isReceiving: Bool {
        eventLoop.preconditionInEventLoop()
        return receiveID != nil
    }
}

extension TCPConnection: CompletionHandler {
    package func completed(_ completion: Completion, context: UInt64) {
        switch context {
        case Context.receive: receiveCompleted(completion)
        case Context.send: sendCompleted(completion, isShutdown: false)
        default: sendCompleted(completion, isShutdown: true)
        }
    }
}

extension TCPConnection: CustomStringConvertible {
    public var description: String {
        "TCPConnection(\(localAddress.map(String.init(describing:)) ?? "?") → \(remoteAddress.map(String.init(describing:)) ?? "?"))"
    }
}
