import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Socket options.
extension TCPConnection {
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

    /// Applies `options` to a new TCP socket; a refused option is not fatal.
    func applyInitial(_ options: Options) {
        if options.noDelay { try? Socket.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1, "setsockopt(TCP_NODELAY)") }
        if let keepAlive = options.keepAlive { try? TCPConnection.apply(keepAlive, to: fd) }
    }

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
}
