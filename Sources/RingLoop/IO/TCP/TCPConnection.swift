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
/// **Cancellation.** `CancellationError` means nothing was done: a task
/// cancelled before it calls a read or write does not start it, and a
/// cancelled read loses no byte. A cancelled write the kernel has not been
/// handed is dropped. One the kernel holds is cancelled there and reports
/// what happened once the kernel answers: success if every byte went out,
/// `PartialWriteError` (with the count) if some did, in which case the
/// output breaks (later writes fail with `RingLoopError.writeCancelledMidway`:
/// the byte stream has a hole), `CancellationError` if none did. Buffers stay
/// owned by the connection until the kernel's final completion.
///
/// **Deadlines.** `read`, `write` and `connect` take `timeout:` or
/// `deadline:`. A deadline stops the operation exactly as cancellation
/// does, and the error says `RingLoopError.timedOut(operation:)` where
/// cancellation would say `CancellationError` (a `PartialWriteError`'s
/// reason too): a timed-out read took nothing, a timed-out write sent
/// nothing or says how much it sent.
///
/// **Closing.** `close()` cancels what is in flight, fails writes not yet
/// sent with `RingLoopError.closed`, and releases the descriptor once the
/// kernel has finished with it. Reads then throw `RingLoopError.closed`.
/// `close(afterPendingWrites: true, timeout:)` sends what is queued first,
/// resetting the connection if the peer has not taken it by the timeout;
/// `abort()` resets the connection (RST). `withConnection(to:on:)` and
/// `withClosing { }` close however their body ends. A connection read with
/// `inbound`/`read()` and then dropped without `close()` is closed when its
/// last reference goes; one with a handler belongs to its loop until closed.
///
/// Thread safety: the async methods, the `Future` methods, `close` and `abort`
/// may be called from any thread; methods documented "loop thread only" trap
/// elsewhere.
// Safe to share: every mutable field is touched only on `eventLoop`'s thread
// (cross-thread calls hop there with `execute`); `localAddress` and
// `remoteAddress` are immutable.
//
// The per-message state is `@exclusivity(unchecked)` (the runtime's access
// checks cost more than the rest of the echo path together). Safe because
// no two accesses to one of these properties can overlap: they happen on
// one thread at a time (the loop's, or its serial post-shutdown executor
// once it has stopped), and within it every modify access is either a plain
// store or one call of a mutating method of `InboundBuffer`,
// `OutboundQueue` or `StagingBuffer`, which never call out (their only
// closures compare identities), so no handler, future or waiter runs while
// an access is open. Debug builds and tests check the rest of the module.
public final class TCPConnection: @unchecked Sendable {
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

    /// The loop whose ring drives this connection.
    public let eventLoop: EventLoop
    /// The local address, if the socket reported one.
    public let localAddress: SocketAddress?
    /// The peer's address, if the socket reported one (not after a reset).
    public let remoteAddress: SocketAddress?
    /// Succeeds once the connection has closed and its descriptor is released.
    public let closeFuture: Future<Void>

    /// The socket's descriptor, owned by this connection: don't close it
    /// yourself (`close()` does, or dropping the connection; it is released
    /// once `closeFuture` succeeds, after which the number may belong to
    /// another file). Use it for options RingLoop has no API for
    /// (`setsockopt`), not for reading or writing behind the connection's back.
    public let descriptor: FileDescriptor
    /// The descriptor; -1 once closed. Owned by this object.
    @exclusivity(unchecked) var fd: Int32
    let isTCP: Bool

    enum Lifecycle { case open, closing, closed }
    @exclusivity(unchecked) var lifecycle = Lifecycle.open
    /// `close(afterPendingWrites: true)` waits for the queue to drain.
    @exclusivity(unchecked) var closeWhenFlushed = false
    /// Resets the connection if the flush takes longer than its timeout.
    var flushTimer: TimerNode?
    /// The flush timed out: the connection was reset.
    var flushTimedOut = false
    /// Closes after pending writes, completed once the descriptor is released.
    var flushFutures: [Future<Void>] = []

    // MARK: Read side
    /// Who reads, what is kept for them, how the stream ended.
    @exclusivity(unchecked) var input = InboundBuffer<AsyncWaiter<[UInt8]?>>(readAheadLimit: TCPConnection.readAheadLimit)
    /// The callback reader, while `input.mode` is `.handler`.
    @exclusivity(unchecked) var handler: (any TCPConnectionHandler)?
    /// A handler call is on the stack: kept chunks are not drained re-entrantly.
    @exclusivity(unchecked) var delivering = false
    @exclusivity(unchecked) var resources: SocketResources?
    /// Kept for the connection's lifetime: lent buffers are recycled into it.
    @exclusivity(unchecked) var buffers: ProvidedBuffers?
    @exclusivity(unchecked) var receiveID: OperationID?
    @exclusivity(unchecked) var receiveCancelRequested = false
    /// The async reader's receives complete through it (see `ReceiveRelay`).
    var relay: ReceiveRelay?
    /// The receive buffer whose bytes (`deliveredBytes`) the handler is being
    /// handed, while `write(copying:)` may still lend it to a send (only
    /// while the ring has buffers to spare; nil otherwise).
    @exclusivity(unchecked) var deliveredBuffer: UInt16?
    @exclusivity(unchecked) var deliveredBytes = UnsafeRawBufferPointer(start: nil, count: 0)

    // MARK: Write side
    /// Who learns a write's outcome.
    enum WriteCompletion {
        case future(Future<Void>)
        case waiter(AsyncWaiter<Void>)
    }
    /// The queued writes, watermarks and output state.
    @exclusivity(unchecked) var outbound = OutboundQueue<WriteCompletion>(
        highWatermark: TCPConnection.writeHighWatermark, lowWatermark: TCPConnection.writeLowWatermark)
    /// Bytes written with `write(copying:)`; staged entries point into it.
    @exclusivity(unchecked) var staging = StagingBuffer(limit: TCPConnection.writeHighWatermark)
    /// msghdr + iovecs for vectored sends, allocated on first use.
    lazy var vector = MessageVector(capacity: TCPConnection.maxIOVecs)
    @exclusivity(unchecked) var sendID: OperationID?
    /// The receive buffer the in-flight send reads from; given back when
    /// that send completes (see `TCPConnection+Lending.swift`).
    @exclusivity(unchecked) var lentToSend: UInt16?
    @exclusivity(unchecked) var sendCancelRequested = false
    /// A send completion is being handled: a write it triggers does not start
    /// a send of its own (the completion starts the next one).
    @exclusivity(unchecked) var inSendCompletion = false
    /// Reused by send completions for the writes they finish.
    @exclusivity(unchecked) var completedScratch: [OutboundQueue<WriteCompletion>.Outcome] = []

    // MARK: Creating

    /// Takes ownership of a connected stream socket (TCP, or a Unix domain
    /// stream socket, such as an end of `socketpair`): `close()`, or dropping
    /// the connection, closes it. Its `O_NONBLOCK` flag is cleared (the
    /// backend waits for readiness itself); options are applied to TCP
    /// sockets only. Safe from any thread.
    ///
    /// - Throws: `IOError("getsockopt(SO_TYPE)", …)` if `descriptor` is not a
    ///   socket (`.notSocket`) or not a stream one (`.protocolNotSupported`);
    ///   `IOError("getsockopt(SO_ACCEPTCONN)", .invalidArgument)` if it is a
    ///   listening socket (adopt that as a `TCPListener`). On error the
    ///   descriptor is left open, still the caller's.
    public convenience init(adopting descriptor: FileDescriptor, on eventLoop: EventLoop, options: Options = Options()) throws(IOError) {
        try Socket.validate(descriptor.rawValue, type: Int32(SOCK_STREAM.rawValue), listening: false)
        Socket.clearNonBlocking(descriptor.rawValue)
        self.init(fd: descriptor.rawValue, on: eventLoop, options: options)
    }

    /// Adopts a connected stream socket without checking it; see
    /// `init(adopting:on:options:)`, which checks it and clears `O_NONBLOCK`.
    @available(*, deprecated, renamed: "init(adopting:on:options:)")
    public convenience init(taking descriptor: FileDescriptor, on eventLoop: EventLoop, options: Options = Options()) {
        self.init(fd: descriptor.rawValue, on: eventLoop, options: options)
    }

    init(fd: Int32, on eventLoop: EventLoop, options: Options) {
        self.eventLoop = eventLoop
        self.fd = fd
        self.descriptor = FileDescriptor(rawValue: fd)
        self.closeFuture = Future(eventLoop: eventLoop)
        let local = Socket.localAddress(fd)
        self.localAddress = local
        self.remoteAddress = Socket.remoteAddress(fd)
        self.isTCP = local?.family == .ipv4 || local?.family == .ipv6
        if isTCP { applyInitial(options) }
    }

    /// A connection its user dropped without closing: only the async
    /// reader's receive can still be in flight (every other operation holds
    /// the connection). It is cancelled by id on the loop, and the descriptor
    /// closed there right after: the epoll backend queues waiters by
    /// descriptor number, so a number reused before the cancel ran would
    /// inherit the dead receive (io_uring holds the socket itself until the
    /// cancel lands).
    deinit {
        guard fd >= 0 else { return }
        guard let id = receiveID else {
            Socket.close(fd)
            return
        }
        let loop = eventLoop
        let fd = self.fd
        loop.execute {
            loop.cancelOperation(id)
            Socket.close(fd)
        }
    }

    // MARK: Introspection (tests)

    /// Bytes received and kept for a consumer that has not taken them. Loop thread only.
    package var bufferedInboundBytes: Int {
        eventLoop.preconditionInEventLoop()
        return input.keptBytes
    }

    /// Whether a task is suspended in `read()`/`inbound`. Loop thread only.
    package var hasPendingRead: Bool {
        eventLoop.preconditionInEventLoop()
        return input.waiter != nil
    }

    /// Whether a receive operation is armed. Loop thread only.
    package var isReceiving: Bool {
        eventLoop.preconditionInEventLoop()
        return receiveID != nil
    }

    /// Bytes of send staging memory the connection holds. Loop thread only.
    package var stagingCapacity: Int {
        eventLoop.preconditionInEventLoop()
        return staging.capacity
    }
}

extension TCPConnection: CustomStringConvertible {
    public var description: String {
        "TCPConnection(\(localAddress.map(String.init(describing:)) ?? "?") → \(remoteAddress.map(String.init(describing:)) ?? "?"))"
    }
}
