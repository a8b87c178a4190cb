// bench-blocking-server: the classic peer. One pthread per accepted connection, each in a
// blocking read/write loop.
//
// CLI: bench-blocking-server [--host 127.0.0.1] [--port P]
// Prints "PORT <n>" as the first stdout line (port 0 = the kernel picks), serves until killed.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

@main
enum BlockingServer {
    static func main() {
        var host = "127.0.0.1"
        var port = 0
        var args = CommandLine.arguments.dropFirst()
        while let flag = args.popFirst() {
            guard let value = args.popFirst() else { usage() }
            switch flag {
            case "--host": host = value
            case "--port": port = Int(value) ?? -1
            default: usage()
            }
        }
        guard (0...65535).contains(port) else { usage() }
        signal(SIGPIPE, SIG_IGN)
        raiseFileLimit()

        let listener = makeListener(host: host, port: port)
        writeFD(1, "PORT \(boundPort(listener))\n")

        // Each connection thread only needs a small stack: its buffer lives on the heap.
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setstacksize(&attr, 128 * 1024)
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                fail("accept4")
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            var thread = pthread_t()
            // The fd travels in the context pointer (as fd + 1, never nil); the thread owns it.
            let context = UnsafeMutableRawPointer(bitPattern: Int(fd) + 1)
            if pthread_create(&thread, &attr, serveConnection, context) != 0 {
                close(fd)
            }
        }
    }

    static func usage() -> Never {
        writeFD(2, "usage: bench-blocking-server [--host ADDR] [--port P]\n")
        exit(2)
    }
}

/// Echoes until the peer closes. Runs on its own thread and owns `fd`.
private func serveConnection(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let fd = Int32(Int(bitPattern: context) - 1)
    let size = 64 * 1024
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
    defer {
        buffer.deallocate()
        close(fd)
    }
    while true {
        let n = read(fd, buffer, size)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return nil }
        var sent = 0
        while sent < n {
            let w = write(fd, buffer + sent, n - sent)
            if w < 0 {
                if errno == EINTR { continue }
                return nil
            }
            sent += w
        }
    }
}

private func makeListener(host: String, port: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    if fd < 0 { fail("socket") }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
        writeFD(2, "bench-blocking-server: bad --host \(host)\n")
        exit(2)
    }
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    if bound < 0 { fail("bind") }
    if listen(fd, 4096) < 0 { fail("listen") }
    return fd
}

private func boundPort(_ fd: Int32) -> Int {
    var addr = sockaddr_in()
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let r = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    if r < 0 { fail("getsockname") }
    return Int(UInt16(bigEndian: addr.sin_port))
}

private func raiseFileLimit() {
    var limit = rlimit()
    guard getrlimit(RLIMIT_NOFILE_ID, &limit) == 0 else { return }
    limit.rlim_cur = limit.rlim_max
    setrlimit(RLIMIT_NOFILE_ID, &limit)
}

private let RLIMIT_NOFILE_ID = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)

private func fail(_ what: String) -> Never {
    let message = String(cString: strerror(errno))
    writeFD(2, "bench-blocking-server: \(what): \(message)\n")
    exit(1)
}

/// Writes straight to a file descriptor: Swift 6 rejects C's `stdout`/`stderr` globals.
func writeFD(_ fd: Int32, _ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            done += n
        }
    }
}
