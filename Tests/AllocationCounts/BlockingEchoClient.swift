#if canImport(Glibc)
import Glibc
#endif

/// A client on plain blocking sockets, so that the only allocations a
/// round trip can cost are the server's (this side makes none).
final class BlockingEchoClient {
    private let fd: Int32
    private var message: [UInt8]
    private var reply: [UInt8]

    init(port: UInt16, messageSize: Int) throws(AllocationCountError) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .system("socket", errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian  // 127.0.0.1
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw .system("connect", errno)
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        self.fd = fd
        message = (0..<messageSize).map { UInt8(truncatingIfNeeded: $0) }
        reply = [UInt8](repeating: 0, count: messageSize)
    }

    deinit { close(fd) }

    /// Sends the message and reads its echo back; false if the connection broke.
    func roundTrip() -> Bool {
        let sent = message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == message.count else { return false }
        var received = 0
        while received < reply.count {
            let n = reply.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + received, $0.count - received, 0) }
            if n <= 0 { return false }
            received += n
        }
        return true
    }
}
