import ExampleSupport
import RingLoop
#if canImport(Glibc)
import Glibc
#endif

/// The shortest RingLoop server: a TCP echo server in the async style, one
/// task per connection, every task pinned to the loop so that its `await`s
/// resume on the loop thread with no thread hop.
///
///     swift run async-echo-server --port 7007
///     nc 127.0.0.1 7007
///
/// (`echo-server` is the same service on the zero-allocation callback API,
/// one loop per core.)
@main
enum AsyncEchoServer {
    static let usage = """
        usage: async-echo-server [--host ADDR] [--port P]
          Echoes every byte back. --port 0 picks a free port and prints "PORT <n>".
        """

    static func main() async {
        do {
            let args = try CommandLineOptions(CommandLine.arguments.dropFirst(), usage: usage, options: ["--host", "--port"])
            let address = try SocketAddress(ipAddress: args.string("--host") ?? "127.0.0.1",
                                            port: try args.int("--port", in: 0...65535) ?? 7007)
            try await serve(on: address)
        } catch let error as UsageError {
            error.exit()
        } catch {
            print("async-echo-server: \(error)")
        }
    }

    static func serve(on address: SocketAddress) async throws {
        let loop = try EventLoop.spawn()
        let listener = try TCPListener.bind(to: address, on: loop)
        print("PORT \(listener.localAddress.port ?? 0)")
        fflush(nil)  // the harness and tests read the port as soon as it is printed
        for try await connection in listener.connections {
            Task(executorPreference: loop) {
                // Each chunk is written back whole before the next is read:
                // a slow reader slows its own sender down (backpressure).
                do {
                    for try await chunk in connection.inbound {
                        try await connection.write(chunk)
                    }
                } catch {
                    // A reset peer ends this connection only.
                }
                await connection.close()
            }
        }
    }
}
