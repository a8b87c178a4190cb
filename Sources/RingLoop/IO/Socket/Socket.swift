import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The synchronous socket calls (socket, bind, listen, options, names): cheap,
/// non-blocking calls made on the caller's thread. Everything that waits goes
/// through the ring instead.
enum Socket {
    /// A new socket, close-on-exec. Deliberately not `SOCK_NONBLOCK`: io_uring
    /// then waits for readiness itself instead of failing with `-EAGAIN`.
    static func open(family: Int32, type: Int32) throws(IOError) -> Int32 {
        let fd = socket(family, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw IOError("socket", Errno(rawValue: errno)) }
        return fd
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32, _ operation: String) throws(IOError) {
        var v = value
        guard setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw IOError(operation, Errno(rawValue: errno))
        }
    }

    static func getOption(_ fd: Int32, _ level: Int32, _ name: Int32) -> Int32? {
        var v: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, level, name, &v, &length) == 0 else { return nil }
        return v
    }

    /// Checks that `fd` is a socket of `type` (`SOCK_STREAM`, `SOCK_DGRAM`)
    /// and, for stream sockets, listening or not as asked: what an adopting
    /// initializer verifies before it takes a descriptor.
    /// - Throws: `IOError("getsockopt(SO_TYPE)", …)` (`.notSocket`, or
    ///   `.protocolNotSupported` for another type);
    ///   `IOError("getsockopt(SO_ACCEPTCONN)", .invalidArgument)` for the
    ///   wrong listening state.
    static func validate(_ fd: Int32, type expected: Int32, listening: Bool?) throws(IOError) {
        var type: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0 else {
            throw IOError("getsockopt(SO_TYPE)", Errno(rawValue: errno))
        }
        guard type == expected else { throw IOError("getsockopt(SO_TYPE)", .protocolNotSupported) }
        guard let listening else { return }
        guard let accepting = getOption(fd, SOL_SOCKET, SO_ACCEPTCONN) else {
            throw IOError("getsockopt(SO_ACCEPTCONN)", Errno(rawValue: errno))
        }
        guard (accepting != 0) == listening else { throw IOError("getsockopt(SO_ACCEPTCONN)", .invalidArgument) }
    }

    /// Clears `O_NONBLOCK`: io_uring then waits for readiness itself instead
    /// of failing with `-EAGAIN` (the epoll backend sets what it needs).
    static func clearNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0, flags & O_NONBLOCK != 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
    }

    static func bind(_ fd: Int32, to address: SocketAddress) throws(IOError) {
        let rc = address.withSockAddr { Glibc.bind(fd, $0, $1) }
        guard rc == 0 else { throw IOError("bind", Errno(rawValue: errno)) }
    }

    static func listen(_ fd: Int32, backlog: Int32) throws(IOError) {
        guard Glibc.listen(fd, backlog) == 0 else { throw IOError("listen", Errno(rawValue: errno)) }
    }

    static func localAddress(_ fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard rc == 0 else { return nil }
        return withUnsafeBytes(of: &storage) { SocketAddress($0.baseAddress!, length: length) }
    }

    static func remoteAddress(_ fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard rc == 0 else { return nil }
        return withUnsafeBytes(of: &storage) { SocketAddress($0.baseAddress!, length: length) }
    }

    /// Closes `fd`. Linux releases the descriptor even when `close` reports
    /// `EINTR`, so it is never retried.
    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Makes the next close send RST instead of FIN (linger on, timeout 0).
    static func setAbortiveClose(_ fd: Int32) {
        var option = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
    }
}
