import DequeModule
import Logging
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A listening stream socket (TCP over IPv4/IPv6, or Unix domain) that accepts
/// connections on one event loop with a multishot accept.
///
/// Callback style:
/// ```swift
/// let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
/// print("listening on", listener.localAddress)
/// listener.start { connection in connection.setHandler(Echo()) }   // runs on the loop
/// ```
/// Async style:
/// ```swift
/// for try await connection in listener.connections {
///     Task(executorPreference: loop) { try await serve(connection) }
/// }
/// ```
/// One listener per loop of a group, sharing a port with `SO_REUSEPORT`:
/// `TCPListener.bind(to:on: group)`.
///
/// **Resilience.** Running out of descriptors (`EMFILE`/`ENFILE`) or kernel
/// memory while accepting does not stop the listener: it logs, backs off
/// (10 ms doubling to 1 s) and tries again, while the connections it already
/// has keep being served. When the kernel ends the multishot accept for any
/// other transient reason it is re-armed.
///
/// **Closing.** `close()` stops accepting and releases the descriptor once the
/// kernel is done with it (and removes a Unix domain socket file it created);
/// `connections` then ends. Connections already accepted are not affected.
// Safe to share: every mutable field is touched only on `eventLoop`'s thread
// (cross-thread calls hop there with `execute`).
public final class TCPListener: @unchecked Sendable {
    private static let minimumBackoff: Duration = .milliseconds(10)
    private static let maximumBackoff: Duration = .seconds(1)

    /// The loop that accepts, and on which accepted connections run.
    public let eventLoop: EventLoop
    /// The bound address (with the port the kernel picked for port 0).
    public let localAddress: SocketAddress
    /// Succeeds once the listener has closed and its descriptor is released.
    public let closeFuture: Future<Void>
    private let options: Options
    /// The loop's configured logger.
    private var logger: Logger { eventLoop.configuration.logger }

    /// The listening socket's descriptor, owned by this listener: don't close
    /// it yourself (`close()` does, or dropping the listener; it is released
    /// once `closeFuture` succeeds, after which the number may belong to
    /// another file). Use it for options RingLoop has no API for
    /// (`setsockopt`), or to hand the socket to a child process.
    public let descriptor: FileDescriptor
    /// Owned by this object; -1 once closed.
    private var fd: Int32
    private let createdSocketFile: String?
    private enum Lifecycle { case open, closing, closed }
    private var lifecycle = Lifecycle.open

    private enum Consumer {
        case none
        case callback((TCPConnection) -> Void)
        case async
    }
    private var consumer = Consumer.none
    private var acceptID: OperationID?
    private var acceptCancelRequested = false
    private var backoff: Duration = .zero
    private var backoffTimer: TimerNode?
    private var queued: Deque<TCPConnection> = []
    private var waiter: AsyncWaiter<TCPConnection?>?
    private var failure: (any Error)?
    private var failureReported = false
    /// Accepts that failed for lack of descriptors or memory (tests, stats).
    private var resourceFailures = 0
    private var acceptedCount = 0

    /// Adopts a bound, listening socket (see `bind(to:on:options:)`).
    init(fd: Int32, loop: EventLoop, address: SocketAddress, options: Options, socketFile: String?) {
        self.fd = fd
        self.descriptor = FileDescriptor(rawValue: fd)
        self.eventLoop = loop
        self.localAddress = address
        self.options = options
        self.createdSocketFile = socketFile
        self.closeFuture = Future(eventLoop: loop)
    }

    deinit {
        if fd >= 0 { Socket.close(fd) }
    }

    // MARK: Accepting

    /// Starts accepting; `onAccept` runs on the listener's loop with each new
    /// connection (hand it a handler there, or start a task). Safe from any
    /// thread; once per listener, and not together with `connections`.
    public func start(_ onAccept: @escaping @Sendable (TCPConnection) -> Void) {
        let body: @Sendable () -> Void = {
            guard case .none = self.consumer else { return }
            self.consumer = .callback(onAccept)
            self.armAccept()
        }
        if eventLoop.inEventLoop { body() } else { eventLoop.execute(body) }
    }

    /// The accepted connections as an async sequence; it ends when the listener
    /// closes. One consumer at a time; not together with `start(_:)`.
    public var connections: Connections { Connections(listener: self) }

    /// Accepted connections; see `TCPListener.connections`.
    public struct Connections: AsyncSequence, Sendable {
        public typealias Element = TCPConnection
        let listener: TCPListener

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(listener: listener) }

        /// Iterates accepted connections; `next()` throws `CancellationError`
        /// when its task is cancelled (accepting pauses; nothing is lost).
        public struct AsyncIterator: AsyncIteratorProtocol {
            let listener: TCPListener
            public mutating func next() async throws -> TCPConnection? {
                try await listener.nextConnection()
            }
        }
    }

    /// The next accepted connection; nil once the listener is closed.
    /// - Throws: `IOError` if accepting failed for good, `CancellationError`,
    ///   `RingLoopError.shutDown`.
    public func accept() async throws -> TCPConnection? {
        try await nextConnection()
    }

    /// `accept()`, waiting until `deadline` at most: Python's `accept` on a
    /// listening socket with `settimeout`.
    ///
    /// Timing out takes nothing: the listener stays usable, and a connection
    /// that arrives later is kept for the next `accept`. A deadline already
    /// past times out without taking a connection that is waiting.
    /// - Throws: `RingLoopError.timedOut(operation: "accept")`, or what
    ///   `accept()` throws.
    public func accept(deadline: Deadline) async throws -> TCPConnection? {
        try await nextConnection(deadline: deadline)
    }

    /// `accept()`, waiting at most `timeout`; see `accept(deadline:)`.
    public func accept(timeout: Duration) async throws -> TCPConnection? {
        try await nextConnection(deadline: .now() + timeout)
    }

    /// `accept()` for callback code: the next accepted connection, nil once
    /// the listener is closed. Safe from any thread; one accept waiting at a
    /// time; not together with `start(_:)`.
    public func accept() -> Future<TCPConnection?> {
        accept(deadline: .distantFuture)
    }

    /// `accept(deadline:)` for callback code: Python's `accept` on a listening
    /// socket with `settimeout`, for a `Future`. Timing out takes nothing
    /// (a connection that arrives later is kept for the next accept) and
    /// fails the future with `RingLoopError.timedOut(operation: "accept")`.
    public func accept(deadline: Deadline) -> Future<TCPConnection?> {
        eventLoop.futureOperation(deadline: deadline, operation: "accept") { (waiter: AsyncWaiter<TCPConnection?>) in
            self.startAccept(waiter)
        }
    }

    /// `accept(deadline:)` for callback code, waiting at most `timeout`.
    public func accept(timeout: Duration) -> Future<TCPConnection?> {
        accept(deadline: .now() + timeout)
    }

    func nextConnection(deadline: Deadline = .distantFuture) async throws -> TCPConnection? {
        try await eventLoop.awaitOperation(deadline: deadline, operation: "accept") { (waiter: AsyncWaiter<TCPConnection?>) in
            self.startAccept(waiter)
        }
    }

    private func takeReady() -> Result<TCPConnection?, any Error>? {
        switch consumer {
        case .callback: return .failure(RingLoopError.alreadyConsumed(operation: "accept"))
        case .none: consumer = .async
        case .async: break
        }
        if waiter != nil { return .failure(RingLoopError.alreadyConsumed(operation: "accept")) }
        if let connection = queued.popFirst() {
            armAccept()
            return .success(connection)
        }
        if let failure {
            if failureReported { return .success(nil) }
            failureReported = true
            return .failure(failure)
        }
        if lifecycle != .open { return .success(nil) }
        return nil
    }

    private func startAccept(_ waiter: AsyncWaiter<TCPConnection?>) {
        if let ready = takeReady() {
            waiter.resume(ready)
            return
        }
        self.waiter = waiter
        waiter.onCancel = { [self] in
            guard self.waiter === waiter else { return }
            self.waiter = nil
            waiter.resume(.failure(CancellationError()))
        }
        armAccept()
    }

    private var wantsToAccept: Bool {
        guard lifecycle == .open, failure == nil, backoffTimer == nil else { return false }
        switch consumer {
        case .none: return false
        case .callback: return true
        case .async: return queued.count < options.maxQueuedConnections / 2 || waiter != nil
        }
    }

    private func armAccept() {
        guard acceptID == nil, wantsToAccept else { return }
        let fd = self.fd
        do {
            acceptID = try eventLoop.submitOperation(.acceptMultishot(fd: fd), handler: self)
            acceptCancelRequested = false
        } catch {
            end(with: RingLoopError.shutDown)
        }
    }

    private func cancelAccept() {
        guard let id = acceptID, !acceptCancelRequested else { return }
        acceptCancelRequested = true
        eventLoop.cancelOperation(id)
    }

    private func acceptCompleted(_ completion: Completion) {
        let final = !completion.hasMore
        if final {
            acceptID = nil
            acceptCancelRequested = false
        }
        switch completion.outcome {
        case let .success(fd):
            backoff = .zero
            acceptedCount += 1
            let connection = TCPConnection(fd: fd, on: eventLoop, options: options.connectionOptions)
            deliver(connection)
        case .cancelled:
            break
        case .shutDown:
            end(with: RingLoopError.shutDown)
        case let .failure(errno):
            switch errno.rawValue {
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                resourceFailures += 1
                backOff(errno)
            case ECONNABORTED, EINTR, EAGAIN, EPROTO, EPERM, ENETDOWN, ENETUNREACH, EHOSTUNREACH, EHOSTDOWN, ENONET, EOPNOTSUPP, ETIMEDOUT:
                // The connection died before it was accepted, or a transient
                // network condition: keep accepting.
                break
            default:
                if lifecycle == .open {
                    logger.error("accept failed; the listener stops", metadata: ["address": "\(localAddress)", "error": "\(errno)"])
                    end(with: IOError("accept", errno))
                }
            }
        }
        if final {
            operationFinished()
            armAccept()
        }
    }

    private func deliver(_ connection: TCPConnection) {
        guard lifecycle == .open else {
            connection.close()
            return
        }
        switch consumer {
        case let .callback(onAccept):
            onAccept(connection)
        case .async where waiter != nil:
            let waiter = self.waiter
            self.waiter = nil
            waiter?.resume(.success(connection))
        case .async, .none:
            queued.append(connection)
            if queued.count >= options.maxQueuedConnections { cancelAccept() }
        }
    }

    /// Out of descriptors or memory: stop accepting for a while (connections
    /// already accepted keep being served), then try again.
    private func backOff(_ errno: Errno) {
        backoff = backoff == .zero ? TCPListener.minimumBackoff : min(backoff * 2, TCPListener.maximumBackoff)
        logger.warning("accept failed; backing off", metadata: [
            "address": "\(localAddress)", "error": "\(errno)", "retryIn": "\(backoff)",
        ])
        cancelAccept()
        guard backoffTimer == nil else { return }
        backoffTimer = eventLoop.scheduleTimer(at: .now() + backoff) { [self] fired in
            backoffTimer = nil
            if fired { armAccept() }
        }
        if backoffTimer == nil { end(with: RingLoopError.shutDown) }
    }

    /// Accepting has failed for good: tell the consumer, then close.
    private func end(with error: any Error) {
        if failure == nil { failure = error }
        if let waiter, queued.isEmpty {
            self.waiter = nil
            failureReported = true
            waiter.resume(.failure(error))
        }
        beginClose()
    }

    // MARK: Closing

    /// Stops accepting and releases the descriptor; returns `closeFuture`.
    /// Connections already accepted stay open. Safe from any thread; idempotent.
    @discardableResult
    public func close() -> Future<Void> {
        if eventLoop.inEventLoop { beginClose() } else { eventLoop.execute { self.beginClose() } }
        return closeFuture
    }

    /// Stops accepting and waits until the descriptor is released.
    public func close() async {
        _ = try? await close().get()
    }

    private func beginClose() {
        guard lifecycle == .open else { return }
        lifecycle = .closing
        if let timer = backoffTimer {
            eventLoop.cancelTimer(timer)
            backoffTimer = nil
        }
        cancelAccept()
        operationFinished()
    }

    private func operationFinished() {
        guard lifecycle == .closing, acceptID == nil else { return }
        lifecycle = .closed
        if fd >= 0 {
            Socket.close(fd)
            fd = -1
        }
        if let createdSocketFile { unlink(createdSocketFile) }
        if let waiter {
            self.waiter = nil
            waiter.resume(queued.isEmpty ? .success(nil) : .success(queued.removeFirst()))
        }
        closeFuture._setResult(.success(()))
    }

    // MARK: Introspection

    /// Accepts that failed for lack of descriptors or memory. Loop thread only.
    package var resourceFailureCount: Int {
        eventLoop.preconditionInEventLoop()
        return resourceFailures
    }

    /// Connections accepted so far. Loop thread only.
    package var acceptedConnectionCount: Int {
        eventLoop.preconditionInEventLoop()
        return acceptedCount
    }
}

extension TCPListener: CompletionHandler {
    package func completed(_ completion: Completion, context: UInt64) {
        acceptCompleted(completion)
    }
}

extension TCPListener: CustomStringConvertible {
    public var description: String { "TCPListener(\(localAddress))" }
}
