import ExampleSupport
import RingLoop

/// Command line of `echo-server`.
struct ServerOptions {
    var host = "127.0.0.1"
    var port = 7007
    var loops = System.coreCount
    var maxConnections = 10_000
    var backlog: Int32 = 4096
    var drainTimeout: Duration = .seconds(5)
    var statsInterval: Duration?

    static let usage = """
        usage: echo-server [--host ADDR] [--port P] [--loops N] [--max-connections N]
                           [--backlog N] [--drain-timeout SECONDS] [--stats-interval SECONDS]
          --port 0 picks a free port and prints "PORT <n>" as the first line.
          --loops N runs N event loops (default: one per core), one SO_REUSEPORT
          listener each; --threads is an alias.
          SIGINT/SIGTERM: stop accepting, finish in-flight echoes, print stats, exit 0.
        """

    /// Parses `arguments` (without the program name).
    /// - Throws: `UsageError` for `--help` or a mistake.
    init<S: Sequence<String>>(_ arguments: S) throws(UsageError) {
        let args = try CommandLineOptions(
            arguments, usage: Self.usage,
            options: ["--host", "--port", "--loops", "--max-connections", "--backlog", "--drain-timeout", "--stats-interval"],
            aliases: ["--threads": "--loops"]
        )
        guard args.positional.isEmpty else { throw UsageError("unexpected argument \(args.positional[0])\n\(Self.usage)") }
        host = args.string("--host") ?? host
        port = try args.int("--port", in: 0...65535) ?? port
        loops = try args.int("--loops", in: 1...1024) ?? loops
        maxConnections = try args.int("--max-connections", in: 1...10_000_000) ?? maxConnections
        backlog = Int32(try args.int("--backlog", in: 1...65535) ?? Int(backlog))
        drainTimeout = try args.seconds("--drain-timeout") ?? drainTimeout
        statsInterval = try args.seconds("--stats-interval", atLeast: 0.001)
    }
}
