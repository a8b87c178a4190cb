import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The address of a socket endpoint: IPv4 or IPv6 address and port, or a Unix
/// domain socket path.
///
/// ```swift
/// let local = try SocketAddress(ipAddress: "127.0.0.1", port: 8080)
/// let any6 = try SocketAddress(ipAddress: "::", port: 0)        // port 0: the kernel picks one
/// let path = try SocketAddress(unixDomainSocketPath: "/tmp/echo.sock")
/// ```
///
/// No name resolution happens here: hosts are numeric addresses.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// An address family.
    public enum Family: Sendable, Hashable {
        case ipv4, ipv6, unix
    }

    enum Storage: Sendable, Hashable {
        /// Address and port in host byte order.
        case ipv4(address: UInt32, port: UInt16)
        /// Address bytes in network order; port in host order.
        case ipv6(high: UInt64, low: UInt64, port: UInt16, flowInfo: UInt32, scopeID: UInt32)
        case unix(path: String)
    }

    let storage: Storage

    init(_ storage: Storage) { self.storage = storage }

    /// An IPv4 or IPv6 address (numeric, as `"127.0.0.1"` or `"::1"`) and port.
    /// - Throws: `RingLoopError.invalidAddress` when `ipAddress` is not a
    ///   numeric address or `port` is outside 0...65535.
    public init(ipAddress: String, port: Int) throws(RingLoopError) {
        guard let p = UInt16(exactly: port) else {
            throw .invalidAddress("\(ipAddress) port \(port)", reason: "the port is outside 0...65535")
        }
        var v4 = in_addr()
        if inet_pton(AF_INET, ipAddress, &v4) == 1 {
            storage = .ipv4(address: UInt32(bigEndian: v4.s_addr), port: p)
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, ipAddress, &v6) == 1 {
            let (high, low) = withUnsafeBytes(of: &v6) { raw in
                (raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            }
            storage = .ipv6(high: high, low: low, port: p, flowInfo: 0, scopeID: 0)
            return
        }
        throw .invalidAddress(ipAddress, reason: "not a numeric IPv4 or IPv6 address (names are not resolved)")
    }

    /// A Unix domain stream/datagram socket path.
    /// - Throws: `RingLoopError.invalidAddress` when the path does not fit in
    ///   `sockaddr_un` (107 bytes) or is empty.
    public init(unixDomainSocketPath path: String) throws(RingLoopError) {
        guard !path.isEmpty else { throw .invalidAddress(path, reason: "an empty Unix socket path") }
        guard path.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw .invalidAddress(path, reason: "a Unix socket path must be shorter than 108 bytes")
        }
        storage = .unix(path: path)
    }

    /// `127.0.0.1:port`.
    public static func loopbackIPv4(port: Int = 0) -> SocketAddress {
        SocketAddress(.ipv4(address: 0x7F00_0001, port: UInt16(truncatingIfNeeded: port)))
    }

    /// `[::1]:port`.
    public static func loopbackIPv6(port: Int = 0) -> SocketAddress {
        SocketAddress(.ipv6(high: 0, low: UInt64(1).bigEndian, port: UInt16(truncatingIfNeeded: port), flowInfo: 0, scopeID: 0))
    }

    /// The address family.
    public var family: Family {
        switch storage {
        case .ipv4: return .ipv4
        case .ipv6: return .ipv6
        case .unix: return .unix
        }
    }

    /// The port of an IP address; nil for Unix domain sockets.
    public var port: Int? {
        switch storage {
        case let .ipv4(_, port): return Int(port)
        case let .ipv6(_, _, port, _, _): return Int(port)
        case .unix: return nil
        }
    }

    /// The numeric IP address (`"127.0.0.1"`, `"::1"`); nil for Unix domain sockets.
    public var ipAddress: String? {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch storage {
        case let .ipv4(address, _):
            var a = in_addr(s_addr: address.bigEndian)
            guard inet_ntop(AF_INET, &a, &text, socklen_t(text.count)) != nil else { return nil }
        case let .ipv6(high, low, _, _, _):
            var a = in6_addr()
            withUnsafeMutableBytes(of: &a) { raw in
                raw.storeBytes(of: high, toByteOffset: 0, as: UInt64.self)
                raw.storeBytes(of: low, toByteOffset: 8, as: UInt64.self)
            }
            guard inet_ntop(AF_INET6, &a, &text, socklen_t(text.count)) != nil else { return nil }
        case .unix:
            return nil
        }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The path of a Unix domain socket address; nil for IP addresses.
    public var unixDomainSocketPath: String? {
        if case let .unix(path) = storage { return path }
        return nil
    }

    public var description: String {
        switch storage {
        case let .ipv4(_, port): return "\(ipAddress ?? "?"):\(port)"
        case let .ipv6(_, _, port, _, _): return "[\(ipAddress ?? "?")]:\(port)"
        case let .unix(path): return "unix:\(path)"
        }
    }

    /// The `AF_*` constant.
    var addressFamily: Int32 {
        switch storage {
        case .ipv4: return AF_INET
        case .ipv6: return AF_INET6
        case .unix: return AF_UNIX
        }
    }

    /// Writes the C form into `storage`; returns its length.
    func write(to out: UnsafeMutablePointer<sockaddr_storage>) -> socklen_t {
        out.initialize(to: sockaddr_storage())
        switch storage {
        case let .ipv4(address, port):
            return out.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                sin.pointee.sin_family = sa_family_t(AF_INET)
                sin.pointee.sin_port = port.bigEndian
                sin.pointee.sin_addr = in_addr(s_addr: address.bigEndian)
                return socklen_t(MemoryLayout<sockaddr_in>.size)
            }
        case let .ipv6(high, low, port, flowInfo, scopeID):
            return out.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                sin6.pointee.sin6_family = sa_family_t(AF_INET6)
                sin6.pointee.sin6_port = port.bigEndian
                sin6.pointee.sin6_flowinfo = flowInfo.bigEndian
                sin6.pointee.sin6_scope_id = scopeID
                withUnsafeMutableBytes(of: &sin6.pointee.sin6_addr) { raw in
                    raw.storeBytes(of: high, toByteOffset: 0, as: UInt64.self)
                    raw.storeBytes(of: low, toByteOffset: 8, as: UInt64.self)
                }
                return socklen_t(MemoryLayout<sockaddr_in6>.size)
            }
        case let .unix(path):
            return out.withMemoryRebound(to: sockaddr_un.self, capacity: 1) { sun in
                sun.pointee.sun_family = sa_family_t(AF_UNIX)
                let bytes = Array(path.utf8)
                withUnsafeMutableBytes(of: &sun.pointee.sun_path) { raw in
                    raw.copyBytes(from: bytes.prefix(raw.count - 1))
                }
                return socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
            }
        }
    }

    /// Calls `body` with the C form of the address.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        var raw = sockaddr_storage()
        let length = write(to: &raw)
        return try withUnsafePointer(to: &raw) { p in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, length) }
        }
    }

    /// Parses a C address (as filled by `getsockname`, `recvmsg`…); nil for
    /// families other than IPv4, IPv6 and Unix.
    init?(_ address: UnsafeRawPointer, length: socklen_t) {
        guard Int(length) >= MemoryLayout<sa_family_t>.size else { return nil }
        let family = Int32(address.loadUnaligned(as: sa_family_t.self))
        switch family {
        case AF_INET where Int(length) >= MemoryLayout<sockaddr_in>.size:
            let sin = address.loadUnaligned(as: sockaddr_in.self)
            storage = .ipv4(address: UInt32(bigEndian: sin.sin_addr.s_addr), port: UInt16(bigEndian: sin.sin_port))
        case AF_INET6 where Int(length) >= MemoryLayout<sockaddr_in6>.size:
            let sin6 = address.loadUnaligned(as: sockaddr_in6.self)
            var a = sin6.sin6_addr
            let (high, low) = withUnsafeBytes(of: &a) { raw in
                (raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            }
            storage = .ipv6(high: high, low: low, port: UInt16(bigEndian: sin6.sin6_port),
                            flowInfo: UInt32(bigEndian: sin6.sin6_flowinfo), scopeID: sin6.sin6_scope_id)
        case AF_UNIX:
            let offset = MemoryLayout<sa_family_t>.size
            let count = max(0, min(Int(length), MemoryLayout<sockaddr_un>.size) - offset)
            let bytes = UnsafeRawBufferPointer(start: address + offset, count: count)
            storage = .unix(path: String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self))
        default:
            return nil
        }
    }
}
