import DequeModule
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A UDP socket driven by one event loop's ring; also a Unix datagram
/// socket when bound to a Unix address (`SocketAddress(unixDomainSocketPath:)`
/// or `SocketAddress(unixAbstractName:)`), with the same API.
///
/// ```swift
/// let socket = try UDPSocket.bind(to: .loopbackIPv4(port: 0), on: loop)
/// try await socket.send(Array("ping".utf8), to: peer)
/// let datagram = try await socket.receive()
/// print(datagram.bytes.count, "bytes from", datagram.sender)
/// await socket.close()
/// ```
///
/// Each `send` is one datagram (`sendmsg`); each `receive` takes one datagram
/// (`recvmsg`) with its sender's address. Several may be in flight at once.
/// Cancelling the awaiting task cancels the kernel operation (a datagram is
/// never half-taken: a cancelled receive leaves it for the next one); its
/// buffers stay owned until the kernel's final completion. `close()` cancels
/// what is in flight, which then fails with `RingLoopError.closed`.
// Safe to share: every mutable field is touched only on `eventLoop`'s thread
// (cross-thread calls hop there with `execute`).
public final class UDPSocket: @unchecked Sendable {
    /// One received datagram.
    public struct Datagram: Sendable {
        /// The payload.
        public var bytes: [UInt8]
        /// Who sent it.
        public var sender: SocketAddress
        /// The datagram was longer than the receive buffer (64 KiB) and was cut.
        public var truncated: Bool
    }

    /// Largest datagram `receive` returns whole.
    public static let maxDatagramSize = 65_536

    /// The loop whose ring drives this socket.
    public let eventLoop: EventLoop
    /// The bound address (with the port the kernel picked for port 0).
    public let localAddress: SocketAddress
    /// Succeeds once the socket has closed and its descriptor is released.
    public let closeFuture: Future<Void>

    /// The socket's descriptor (owned by this socket: don't close it
    /// yourself; it is released once `closeFuture` succeeds). Use it for
    /// options RingLoop has no API for (`setsockopt`).
    public let descriptor: FileDescriptor
    /// Owned by this object; -1 once closed.
    private var fd: Int32
    /// The file a bind to a Unix path created, removed on close (then nil).
    private var socketFile: String?
    private var operationsInFlight = 0
    /// Datagrams whose receive completed after its caller was cancelled; the
    /// next receives take them first, so none is lost to a cancel.
    private var stashed: Deque<Datagram> = []
    private enum Lifecycle { case open, closing, closed }
    private var lifecycle = Lifecycle.open

    private init(fd: Int32, loop: EventLoop, address: SocketAddress, socketFile: String? = nil) {
        self.fd = fd
        self.descriptor = FileDescriptor(rawValue: fd)
        self.socketFile = socketFile
        self.eventLoop = loop
        self.localAddress = address
        self.closeFuture = Future(eventLoop: loop)
    }

    deinit {
        if fd >= 0 { Socket.close(fd) }
        if let socketFile { unlink(socketFile) }
    }

    /// Takes ownership of an open datagram socket (UDP, or a Unix datagram
    /// socket), bound or not: `close()`, or dropping the last reference,
    /// closes it. Its `O_NONBLOCK` flag is cleared (the ring waits for
    /// readiness itself). Safe from any thread.
    /// - Throws: `IOError("getsockopt(SO_TYPE)", …)` if `descriptor` is not a
    ///   socket (`.notSocket`) or not a datagram one (`.protocolNotSupported`);
    ///   on error the descriptor is left open, still the caller's.
    public convenience init(adopting descriptor: FileDescriptor, on loop: EventLoop) throws(IOError) {
        let fd = descriptor.rawValue
        try Socket.validate(fd, type: Int32(SOCK_DGRAM.rawValue), listening: nil)
        Socket.clearNonBlocking(fd)
        guard let address = Socket.localAddress(fd) else { throw IOError("getsockname", Errno(rawValue: errno)) }
        self.init(fd: fd, loop: loop, address: address)
    }

    /// Binds a UDP socket to `address` (port 0: the kernel picks one), or a
    /// Unix datagram socket (`AF_UNIX`, `SOCK_DGRAM`) to a Unix path or
    /// abstract name. A path's socket file is removed on close (an existing
    /// file makes the bind fail with `.addressInUse`). Safe from any thread.
    /// - Throws: `IOError` from `socket`, `setsockopt` or `bind` (`.addressInUse`…);
    ///   `RingLoopError.shutDown` if `loop` has shut down (or is shutting down).
    public static func bind(to address: SocketAddress, on loop: EventLoop, reuseAddress: Bool = false) throws -> UDPSocket {
        guard !loop.isShuttingDown else { throw RingLoopError.shutDown }
        let fd = try Socket.open(family: address.addressFamily, type: Int32(SOCK_DGRAM.rawValue))
        do throws(IOError) {
            if reuseAddress, address.family != .unix {
                try Socket.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)")
            }
            try Socket.bind(fd, to: address)
        } catch {
            Socket.close(fd)
            throw error
        }
        return UDPSocket(fd: fd, loop: loop, address: Socket.localAddress(fd) ?? address,
                         socketFile: address.unixDomainSocketPath)
    }

    // MARK: Sending

    /// Sends `bytes` as one datagram to `address`, returning once the kernel
    /// has taken it.
    /// - Throws: `IOError` (`.messageTooLong`, `.connectionRefused` after an
    ///   ICMP error…), `CancellationError`, `RingLoopError.closed`,
    ///   `RingLoopError.shutDown`.
    public func send(_ bytes: [UInt8], to address: SocketAddress) async throws {
        try await send(bytes, to: address, deadline: .distantFuture)
    }

    /// `send(_:to:)`, waiting until `deadline` at most for the kernel to take
    /// the datagram; `RingLoopError.timedOut(operation: "send")` if it did
    /// not (nothing was sent).
    public func send(_ bytes: [UInt8], to address: SocketAddress, deadline: Deadline) async throws {
        try await eventLoop.awaitOperation(deadline: deadline, operation: "send", sendStarter(bytes, to: address))
    }

    /// Starts a send for a waiter (task or future); its cancel (or deadline)
    /// cancels the kernel operation.
    func sendStarter(_ bytes: [UInt8], to address: SocketAddress) -> @Sendable (AsyncWaiter<Void>) -> Void {
        { waiter in
            self.startSend(bytes, to: address) { waiter.resume($0) }
            .map { id in waiter.onCancel = { self.eventLoop.cancelOperation(id) } }
        }
    }

    /// Sends `bytes` as one datagram to `address`; the future succeeds once the
    /// kernel has taken it. Safe from any thread.
    @discardableResult
    public func send(_ bytes: [UInt8], to address: SocketAddress) -> Future<Void> {
        let future = Future<Void>(eventLoop: eventLoop)
        let body: @Sendable () -> Void = { _ = self.startSend(bytes, to: address) { future._setResult($0) } }
        if eventLoop.inEventLoop { body() } else { eventLoop.execute(body) }
        return future
    }

    private func startSend(_ bytes: [UInt8], to address: SocketAddress, _ done: @escaping (Result<Void, any Error>) -> Void) -> OperationID? {
        guard lifecycle == .open else {
            done(.failure(RingLoopError.closed(operation: "send")))
            return nil
        }
        let operation = SendOperation(socket: self, bytes: bytes, to: address, done: done)
        let fd = self.fd
        let message = UnsafePointer(operation.message)
        do {
            let id = try eventLoop.submitOperation(.sendMessage(fd: fd, message: message), handler: operation)
            operationsInFlight += 1
            return id
        } catch {
            done(.failure(error))
            return nil
        }
    }

    // MARK: Receiving

    /// Waits for the next datagram.
    /// - Throws: `IOError`, `CancellationError` (the datagram, if one arrives,
    ///   stays for the next receive), `RingLoopError.closed`,
    ///   `RingLoopError.shutDown`.
    public func receive() async throws -> Datagram {
        try await receive(deadline: .distantFuture)
    }

    /// `send(_:to:)`, waiting at most `timeout`.
    public func send(_ bytes: [UInt8], to address: SocketAddress, timeout: Duration) async throws {
        try await send(bytes, to: address, deadline: .now() + timeout)
    }

    /// `receive()`, waiting at most `timeout`.
    public func receive(timeout: Duration) async throws -> Datagram {
        try await receive(deadline: .now() + timeout)
    }

    /// `receive()`, waiting until `deadline` at most.
    /// - Throws: `RingLoopError.timedOut(operation: "receive")` if no
    ///   datagram came (none was consumed: the next one stays for the next
    ///   receive), or what `receive()` throws.
    public func receive(deadline: Deadline) async throws -> Datagram {
        try await eventLoop.awaitOperation(deadline: deadline, operation: "receive", receiveStarter())
    }

    /// Starts a receive for a waiter (task or future); its cancel (or
    /// deadline) cancels the kernel operation, and a datagram that completes
    /// the receive after that is stashed for the next receive.
    func receiveStarter() -> @Sendable (AsyncWaiter<Datagram>) -> Void {
        { waiter in
            self.startReceive { result in
                guard waiter.isWaiting else { return false }
                waiter.resume(result)
                return true
            }
            .map { id in waiter.onCancel = { self.eventLoop.cancelOperation(id) } }
        }
    }

    /// The next datagram, as a future. Safe from any thread.
    public func receive() -> Future<Datagram> {
        let future = Future<Datagram>(eventLoop: eventLoop)
        let body: @Sendable () -> Void = { _ = self.startReceive { future._setResult($0) } }
        if eventLoop.inEventLoop { body() } else { eventLoop.execute(body) }
        return future
    }

    /// `done` returns whether the caller took the outcome (false once it was cancelled).
    private func startReceive(_ done: @escaping (Result<Datagram, any Error>) -> Bool) -> OperationID? {
        guard lifecycle == .open else {
            _ = done(.failure(RingLoopError.closed(operation: "receive")))
            return nil
        }
        if let datagram = stashed.popFirst() {
            if !done(.success(datagram)) { stashed.prepend(datagram) }
            return nil
        }
        let operation = ReceiveOperation(socket: self, done: done)
        let fd = self.fd
        let message = operation.message
        do {
            let id = try eventLoop.submitOperation(.receiveMessage(fd: fd, message: message), handler: operation)
            operationsInFlight += 1
            return id
        } catch {
            _ = done(.failure(error))
            return nil
        }
    }

    fileprivate func stash(_ datagram: Datagram) {
        if lifecycle == .open { stashed.append(datagram) }
    }

    /// Maps a failed completion to the error the caller sees.
    /// `operation` is what the caller called (`"send"`), `call` the kernel's
    /// name for it (`"sendmsg"`).
    fileprivate func error(_ operation: String, call: String, _ outcome: Completion.Outcome) -> any Error {
        switch outcome {
        case let .failure(errno): return IOError(call, errno)
        case .success: preconditionFailure("not a failure")
        case _ where lifecycle != .open: return RingLoopError.closed(operation: operation)
        case .shutDown: return RingLoopError.shutDown
        case .cancelled: return CancellationError()
        }
    }

    fileprivate func operationFinished() {
        operationsInFlight -= 1
        finishCloseIfIdle()
    }

    // MARK: Closing

    /// Cancels what is in flight and releases the descriptor once the kernel is
    /// done with it; returns `closeFuture`. Safe from any thread; idempotent.
    @discardableResult
    public func close() -> Future<Void> {
        if eventLoop.inEventLoop { beginClose() } else { eventLoop.execute { self.beginClose() } }
        return closeFuture
    }

    /// Closes and waits until the descriptor is released.
    public func close() async {
        _ = try? await close().get()
    }

    private func beginClose() {
        guard lifecycle == .open else { return }
        lifecycle = .closing
        if operationsInFlight > 0 { eventLoop.cancelOperations(fd: fd) }
        finishCloseIfIdle()
    }

    private func finishCloseIfIdle() {
        guard lifecycle == .closing, operationsInFlight == 0 else { return }
        lifecycle = .closed
        if fd >= 0 {
            Socket.close(fd)
            fd = -1
        }
        if let socketFile {
            unlink(socketFile)
            self.socketFile = nil
        }
        closeFuture._setResult(.success(()))
    }
}

/// One datagram being sent: owns the payload and the message vector (iovec,
/// destination address, msghdr) until the final CQE.
private final class SendOperation: CompletionHandler {
    let socket: UDPSocket
    let bytes: [UInt8]
    let vector = MessageVector(capacity: 1)
    private let done: (Result<Void, any Error>) -> Void

    init(socket: UDPSocket, bytes: [UInt8], to destination: SocketAddress, done: @escaping (Result<Void, any Error>) -> Void) {
        self.socket = socket
        self.bytes = bytes
        self.done = done
        // `bytes` is kept alive, unmutated, by this operation until its final CQE.
        if let base = bytes.withUnsafeBytes({ $0.baseAddress }) {
            vector.setIOVec(0, base: base, count: bytes.count)
            vector.prepare(iovecs: 1, destination: destination)
        } else {
            vector.prepare(iovecs: 0, destination: destination)
        }
    }

    var message: UnsafeMutablePointer<msghdr> { vector.message }

    func completed(_ completion: Completion, context: UInt64) {
        if case .success = completion.outcome {
            done(.success(()))
        } else {
            done(.failure(socket.error("send", call: "sendmsg", completion.outcome)))
        }
        socket.operationFinished()
    }
}

/// One datagram being received: owns the buffer and the message vector
/// (iovec, sender address, msghdr) until the final CQE.
private final class ReceiveOperation: CompletionHandler {
    let socket: UDPSocket
    private let buffer: UnsafeMutableRawPointer
    private let vector = MessageVector(capacity: 1)
    private let done: (Result<UDPSocket.Datagram, any Error>) -> Bool

    init(socket: UDPSocket, done: @escaping (Result<UDPSocket.Datagram, any Error>) -> Bool) {
        self.socket = socket
        self.done = done
        buffer = .allocate(byteCount: UDPSocket.maxDatagramSize, alignment: 16)
        vector.setIOVec(0, base: buffer, count: UDPSocket.maxDatagramSize)
        vector.prepareForReceive(iovecs: 1)
    }

    deinit {
        buffer.deallocate()
    }

    var message: UnsafeMutablePointer<msghdr> { vector.message }

    func completed(_ completion: Completion, context: UInt64) {
        if let result = completion.value {
            let count = min(Int(result), UDPSocket.maxDatagramSize)
            let bytes = Array(UnsafeRawBufferPointer(start: buffer, count: count))
            let sender = vector.receivedAddress ?? socket.localAddress
            let truncated = message.pointee.msg_flags & Int32(MSG_TRUNC) != 0
            let datagram = UDPSocket.Datagram(bytes: bytes, sender: sender, truncated: truncated)
            if !done(.success(datagram)) { socket.stash(datagram) }
        } else {
            _ = done(.failure(socket.error("receive", call: "recvmsg", completion.outcome)))
        }
        socket.operationFinished()
    }
}
