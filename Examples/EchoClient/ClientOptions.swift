import ExampleSupport
import RingLoop

/// Command line of `echo-client`.
struct ClientOptions {
    var host = "127.0.0.1"
    var port = 7007
    var connections = 1
    var size = 64
    var depth = 1
    var duration: Duration = .seconds(5)
    var loops = 1
    var hold: Duration = .zero

    static let usage = """
        usage: echo-client [--host ADDR] [--port P] [--connections N] [--size BYTES]
                           [--depth D] [--duration SECONDS] [--loops N] [--hold SECONDS]
          Opens N connections, keeps D messages of SIZE bytes in flight on each for
          the duration, checks every echoed byte, and prints msgs/s, MiB/s (echoed
          payload, one direction) and p50/p99 round-trip latency.
          --hold S keeps the connections open and idle for S seconds before the
          traffic starts (e.g. to read the server's RSS); --duration 0 sends nothing.
        """

    static func parse(_ arguments: [String]) throws(UsageError) -> ClientOptions {
        let args = try CommandLineOptions(
            arguments, usage: usage,
            options: ["--host", "--port", "--connections", "--size", "--depth", "--duration", "--loops", "--hold"])
        guard args.positional.isEmpty else { throw UsageError("unexpected argument \(args.positional[0])\n\(usage)") }
        var options = ClientOptions()
        options.host = args.string("--host") ?? options.host
        options.port = try args.int("--port", in: 1...65535) ?? options.port
        options.connections = try args.int("--connections", in: 1...1_000_000) ?? options.connections
        options.size = try args.int("--size", in: 1...(64 << 20)) ?? options.size
        options.depth = try args.int("--depth", in: 1...4096) ?? options.depth
        options.duration = try args.seconds("--duration") ?? options.duration
        options.hold = try args.seconds("--hold") ?? options.hold
        options.loops = try args.int("--loops", in: 1...1024) ?? max(1, min(System.coreCount, options.connections))
        return options
    }
}
