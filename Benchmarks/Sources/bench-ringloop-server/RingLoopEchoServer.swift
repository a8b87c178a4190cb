// bench-ringloop-server: RingLoop's echo server for the harness, on the public callback API
// (the approach of Examples/EchoServer without its statistics and graceful drain): one event
// loop per --threads, each with its own SO_REUSEPORT listener; bytes arrive as a view of the
// loop's provided-buffer ring and are copied into the connection's reusable send buffer, so
// the per-message path allocates nothing.
//
// CLI: bench-ringloop-server [--host 127.0.0.1] [--port P] [--threads N]
// Prints "PORT <n>" as the first stdout line (port 0 = the kernel picks), serves until
// SIGTERM or SIGINT, then exits 0 at once.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RingLoop

@main
enum RingLoopEchoServer {
    static func main() {
        var host = "127.0.0.1"
        var port = 0
        var threads = 1
        var args = CommandLine.arguments.dropFirst()
        while let flag = args.popFirst() {
            guard let value = args.popFirst() else { usage() }
            switch flag {
            case "--host": host = value
            case "--port": port = Int(value) ?? -1
            case "--threads", "--loops": threads = Int(value) ?? 0
            default: usage()
            }
        }
        guard (0...65535).contains(port), (1...256).contains(threads) else { usage() }
        signal(SIGPIPE, SIG_IGN)
        raiseFileLimit()
        // Block the stop signals before any loop thread starts, so that every thread inherits
        // the mask and only sigwait below takes them.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGTERM)
        sigaddset(&stopSignals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

        // Both live until exit.
        let group: EventLoopGroup
        let listeners: [TCPListener]
        do {
            group = try EventLoopGroup(numberOfLoops: threads)
            var options = TCPListener.Options()
            options.backlog = 4096
            listeners = try TCPListener.bind(
                to: try SocketAddress(ipAddress: host, port: port), on: group, options: options)
        } catch {
            writeFD(2, "bench-ringloop-server: \(error)\n")
            exit(1)
        }
        for listener in listeners {
            listener.start { connection in connection.setHandler(EchoHandler()) }
        }
        writeFD(1, "PORT \(listeners[0].localAddress.port ?? 0)\n")

        var received: Int32 = 0
        sigwait(&stopSignals, &received)
        // The harness measures serving, not shutting down: leave at once.
        withExtendedLifetime((group, listeners)) { exit(0) }
    }

    static func usage() -> Never {
        writeFD(2, "usage: bench-ringloop-server [--host ADDR] [--port P] [--threads N]\n")
        exit(2)
    }

    static func raiseFileLimit() {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0 else { return }
        limit.rlim_cur = limit.rlim_max
        setrlimit(resource, &limit)
    }
}

/// Echoes a connection's bytes back; pauses reading while the peer does not take its echoes.
final class EchoHandler: TCPConnectionHandler {
    func connection(_ connection: TCPConnection, didRead bytes: UnsafeRawBufferPointer) {
        connection.write(copying: bytes)
        if !connection.isWritable { connection.pauseReading() }
    }

    func connectionWritabilityDidChange(_ connection: TCPConnection) {
        if connection.isWritable { connection.resumeReading() }
    }
}

/// Writes straight to a file descriptor: Swift 6 rejects C's `stdout`/`stderr` globals.
func writeFD(_ fd: Int32, _ text: String) {
    var text = text
    text.withUTF8 { bytes in
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = write(fd, base + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            done += n
        }
    }
}
