// bench-nio-server: the SwiftNIO peer (NIOPosix, epoll), written the way NIO's own echo
// example is: write on read, flush on read-complete.
//
// CLI: bench-nio-server [--host 127.0.0.1] [--port P] [--loops N]
// Prints "PORT <n>" as the first stdout line (port 0 = the kernel picks), serves until killed.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NIOCore
import NIOPosix

final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

@main
enum NIOEchoServer {
    static func main() throws {
        var host = "127.0.0.1"
        var port = 0
        var loops = 1
        var args = CommandLine.arguments.dropFirst()
        while let flag = args.popFirst() {
            guard let value = args.popFirst() else { usage() }
            switch flag {
            case "--host": host = value
            case "--port": port = Int(value) ?? -1
            case "--loops", "--threads": loops = Int(value) ?? 0
            default: usage()
            }
        }
        guard (0...65535).contains(port), loops >= 1 else { usage() }
        signal(SIGPIPE, SIG_IGN)
        raiseFileLimit()

        let group = MultiThreadedEventLoopGroup(numberOfThreads: loops)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(EchoHandler())
                }
            }
        let channel = try bootstrap.bind(host: host, port: port).wait()
        writeFD(1, "PORT \(channel.localAddress?.port ?? 0)\n")
        try channel.closeFuture.wait()
    }

    static func usage() -> Never {
        writeFD(2, "usage: bench-nio-server [--host ADDR] [--port P] [--loops N]\n")
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
