import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Opening connections.
extension TCPConnection {
    /// Connects to `address` (TCP, or a Unix domain stream socket) on `loop`.
    ///
    /// ```swift
    /// TCPConnection.connect(to: .loopbackIPv4(port: 8080), on: loop, timeout: .seconds(2))
    ///     .whenSuccess { connection in connection.setHandler(MyHandler()) }
    /// ```
    ///
    /// Fails with `IOError` `.connectionRefused` when nothing listens there,
    /// with `RingLoopError.timedOut` when `timeout` passes first (the attempt
    /// is cancelled; the kernel's own SYN-retry limit, minutes later, gives
    /// `IOError` `.timedOut` instead), and with `RingLoopError.shutDown` if the
    /// loop shuts down. Safe from any thread.
    public static func connect(
        to address: SocketAddress,
        on loop: EventLoop,
        timeout: Duration? = nil,
        options: Options = Options()
    ) -> Future<TCPConnection> {
        connectFuture(to: address, on: loop, deadline: timeout.map { .now() + $0 }, options: options)
    }

    private static func connectFuture(
        to address: SocketAddress, on loop: EventLoop, deadline: Deadline?, options: Options
    ) -> Future<TCPConnection> {
        let future = Future<TCPConnection>(eventLoop: loop)
        let start: @Sendable () -> Void = {
            let operation = ConnectOperation(loop: loop, address: address, options: options) { future._setResult($0) }
            operation.start(deadline: deadline)
        }
        if loop.inEventLoop { start() } else { loop.execute(start) }
        return future
    }

    /// Connects to `address`, giving up at `deadline`; see
    /// `connect(to:on:timeout:options:) -> Future`. Safe from any thread.
    public static func connect(
        to address: SocketAddress,
        on loop: EventLoop,
        deadline: Deadline,
        options: Options = Options()
    ) -> Future<TCPConnection> {
        connectFuture(to: address, on: loop, deadline: deadline, options: options)
    }

    /// Connects to `address`; see `connect(to:on:timeout:options:) -> Future`.
    ///
    /// ```swift
    /// let connection = try await TCPConnection.connect(to: .loopbackIPv4(port: 8080), on: loop)
    /// ```
    /// - Throws: `IOError` (`.connectionRefused`, `.networkUnreachable`…),
    ///   `RingLoopError.timedOut`, `CancellationError` (the attempt is
    ///   cancelled and its socket closed), `RingLoopError.shutDown`.
    public static func connect(
        to address: SocketAddress,
        on loop: EventLoop,
        timeout: Duration? = nil,
        options: Options = Options()
    ) async throws -> TCPConnection {
        try await connecting(to: address, on: loop, deadline: timeout.map { .now() + $0 }, options: options)
    }

    /// Connects to `address`, giving up at `deadline` (Python's
    /// `asyncio.wait_for(asyncio.open_connection(…), t)` with an absolute
    /// time); see `connect(to:on:timeout:options:)`.
    /// - Throws: as `connect(to:on:timeout:options:)`;
    ///   `RingLoopError.timedOut(operation: "connect")` once `deadline` passes.
    public static func connect(
        to address: SocketAddress,
        on loop: EventLoop,
        deadline: Deadline,
        options: Options = Options()
    ) async throws -> TCPConnection {
        try await connecting(to: address, on: loop, deadline: deadline, options: options)
    }

    private static func connecting(
        to address: SocketAddress, on loop: EventLoop, deadline: Deadline?, options: Options
    ) async throws -> TCPConnection {
        try await loop.awaitOperation { (waiter: AsyncWaiter<TCPConnection>) in
            let operation = ConnectOperation(loop: loop, address: address, options: options) { waiter.resume($0) }
            waiter.onCancel = { operation.cancel() }
            operation.start(deadline: deadline)
        }
    }
}

/// One connect attempt: owns the socket (until it becomes a connection or is
/// closed) and the `sockaddr` the kernel reads, until the final CQE.
final class ConnectOperation: CompletionHandler {
    private let loop: EventLoop
    private let address: SocketAddress
    private let options: TCPConnection.Options
    private let finish: (Result<TCPConnection, any Error>) -> Void
    private let storage: UnsafeMutablePointer<sockaddr_storage>
    private var fd: Int32 = -1
    private var id: OperationID?
    private var timer: TimerNode?
    private var timedOut = false
    private var cancelled = false

    init(loop: EventLoop, address: SocketAddress, options: TCPConnection.Options,
         finish: @escaping (Result<TCPConnection, any Error>) -> Void) {
        self.loop = loop
        self.address = address
        self.options = options
        self.finish = finish
        self.storage = .allocate(capacity: 1)
    }

    deinit {
        storage.deallocate()
    }

    /// Opens the socket and submits the connect. Loop thread.
    func start(deadline: Deadline?) {
        do {
            fd = try Socket.open(family: address.addressFamily, type: Int32(SOCK_STREAM.rawValue))
        } catch {
            finish(.failure(error))
            return
        }
        let fd = self.fd
        let length = address.write(to: storage)
        let target = UnsafeRawPointer(storage).assumingMemoryBound(to: sockaddr.self)
        do {
            id = try loop.submitOperation(.connect(fd: fd, address: target, length: length), handler: self)
        } catch {
            fail(error)
            return
        }
        if let deadline, deadline != .distantFuture {
            timer = loop.scheduleTimer(at: deadline) { [self] fired in
                timer = nil
                guard fired, let id else { return }
                timedOut = true
                loop.cancelOperation(id)
            }
        }
    }

    /// The awaiting task was cancelled.
    func cancel() {
        guard let id, !cancelled else { return }
        cancelled = true
        loop.cancelOperation(id)
    }

    private func fail(_ error: any Error) {
        if fd >= 0 {
            Socket.close(fd)
            fd = -1
        }
        finish(.failure(error))
    }

    func completed(_ completion: Completion, context: UInt64) {
        id = nil
        if let timer {
            loop.cancelTimer(timer)
            self.timer = nil
        }
        if case .success = completion.outcome {
            let connection = TCPConnection(fd: fd, on: loop, options: options)
            fd = -1
            finish(.success(connection))
        } else if timedOut {
            fail(RingLoopError.timedOut(operation: "connect"))
        } else if cancelled {
            fail(CancellationError())
        } else if case let .failure(errno) = completion.outcome {
            fail(IOError("connect", errno))
        } else if case .shutDown = completion.outcome {
            fail(RingLoopError.shutDown)
        } else {
            fail(IOError("connect", .canceled))
        }
    }
}
