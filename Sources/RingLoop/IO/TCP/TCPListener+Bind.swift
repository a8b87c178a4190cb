import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Setting up a listener: its options, and binding one per loop or per group.
extension TCPListener {
    /// How a listener is set up.
    public struct Options: Sendable {
        /// Length of the kernel's queue of connections not yet accepted
        /// (capped by `net.core.somaxconn`).
        public var backlog: Int32 = 1024
        /// `SO_REUSEADDR`: rebind a port that still has connections in TIME_WAIT.
        public var reuseAddress = true
        /// `SO_REUSEPORT`: let several sockets (one per loop) listen on one
        /// port; the kernel spreads incoming connections over them.
        public var reusePort = false
        /// Options applied to every accepted connection.
        public var connectionOptions = TCPConnection.Options()
        /// Accepted connections the async `connections` sequence holds for a
        /// consumer that has not taken them; accepting pauses beyond it.
        public var maxQueuedConnections = 64

        public init() {}
    }

    /// Binds and listens on `address`; accepting starts with `start(_:)` or
    /// by iterating `connections`. Safe from any thread.
    ///
    /// A Unix domain path must not exist yet (remove a stale socket file
    /// first); the listener removes the file it created when it closes.
    /// - Throws: `IOError` from `socket`, `setsockopt`, `bind` (`.addressInUse`…)
    ///   or `listen`; `RingLoopError.shutDown` if `loop` has shut down (or is
    ///   shutting down), before any socket is opened.
    public static func bind(to address: SocketAddress, on loop: EventLoop, options: Options = Options()) throws -> TCPListener {
        guard !loop.isShuttingDown else { throw RingLoopError.shutDown }
        let fd = try Socket.open(family: address.addressFamily, type: Int32(SOCK_STREAM.rawValue))
        do throws(IOError) {
            if address.family != .unix {
                if options.reuseAddress { try Socket.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)") }
                if options.reusePort { try Socket.setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt(SO_REUSEPORT)") }
            }
            try Socket.bind(fd, to: address)
            let socketFile = address.unixDomainSocketPath
            do throws(IOError) {
                try Socket.listen(fd, backlog: options.backlog)
            } catch {
                if let socketFile { unlink(socketFile) }
                throw error
            }
            let bound = Socket.localAddress(fd) ?? address
            return TCPListener(fd: fd, loop: loop, address: bound, options: options, socketFile: socketFile)
        } catch {
            Socket.close(fd)
            throw error
        }
    }

    /// Takes ownership of a bound, listening stream socket (TCP, or Unix
    /// domain; one inherited from a supervisor, or made with raw calls):
    /// `close()`, or dropping the listener, closes it. Accepting starts with
    /// `start(_:)` or by iterating `connections`, as after `bind`. Its
    /// `O_NONBLOCK` flag is cleared (the backend waits for readiness
    /// itself). Of `options`, only `connectionOptions` and
    /// `maxQueuedConnections` apply (the socket is already set up); a Unix
    /// socket file is left in place on close (this listener did not create
    /// it). Safe from any thread.
    ///
    /// - Throws: `IOError("getsockopt(SO_TYPE)", …)` if `descriptor` is not a
    ///   socket (`.notSocket`) or not a stream one (`.protocolNotSupported`);
    ///   `IOError("getsockopt(SO_ACCEPTCONN)", .invalidArgument)` if it is
    ///   not listening; `IOError("getsockname", …)`. On error the descriptor
    ///   is left open, still the caller's.
    public convenience init(adopting descriptor: FileDescriptor, on loop: EventLoop, options: Options = Options()) throws(IOError) {
        let fd = descriptor.rawValue
        try Socket.validate(fd, type: Int32(SOCK_STREAM.rawValue), listening: true)
        guard let address = Socket.localAddress(fd) else { throw IOError("getsockname", Errno(rawValue: errno)) }
        Socket.clearNonBlocking(fd)
        self.init(fd: fd, loop: loop, address: address, options: options, socketFile: nil)
    }

    /// Binds one listener per loop of `group` on the same address with
    /// `SO_REUSEPORT`, so each loop accepts (and serves) its share of the
    /// connections. With port 0, the first listener picks the port and the
    /// others join it. Safe from any thread.
    /// - Throws: `IOError`, or `RingLoopError.shutDown` if a loop has shut
    ///   down; listeners already bound are closed again.
    public static func bind(to address: SocketAddress, on group: EventLoopGroup, options: Options = Options()) throws -> [TCPListener] {
        var options = options
        options.reusePort = true
        var listeners: [TCPListener] = []
        var target = address
        do {
            for loop in group.loops {
                let listener = try bind(to: target, on: loop, options: options)
                target = listener.localAddress
                listeners.append(listener)
            }
        } catch {
            for listener in listeners { listener.close() }
            throw error
        }
        return listeners
    }
}
