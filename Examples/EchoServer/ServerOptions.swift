import RingLoop

/// Command line of `echo-server` (parsed by hand: the example has no
/// dependencies beyond RingLoop).
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

    /// Parses `arguments` (without the program name); nil with a message on error.
    static func parse(_ arguments: [String]) -> Result<ServerOptions, UsageError> {
        var options = ServerOptions()
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            if flag == "--help" || flag == "-h" { return .failure(UsageError(usage)) }
            guard let value = rest.popFirst() else { return .failure(UsageError("missing value for \(flag)\n\(usage)")) }
            func int(_ range: ClosedRange<Int>) -> Int? {
                guard let n = Int(value), range.contains(n) else { return nil }
                return n
            }
            switch flag {
            case "--host": options.host = value
            case "--port": guard let n = int(0...65535) else { return .failure(UsageError("bad --port \(value)")) }; options.port = n
            case "--loops", "--threads": guard let n = int(1...1024) else { return .failure(UsageError("bad \(flag) \(value)")) }; options.loops = n
            case "--max-connections": guard let n = int(1...10_000_000) else { return .failure(UsageError("bad --max-connections \(value)")) }; options.maxConnections = n
            case "--backlog": guard let n = int(1...65535) else { return .failure(UsageError("bad --backlog \(value)")) }; options.backlog = Int32(n)
            case "--drain-timeout": guard let s = Double(value), s >= 0 else { return .failure(UsageError("bad --drain-timeout \(value)")) }; options.drainTimeout = .milliseconds(Int(s * 1000))
            case "--stats-interval": guard let s = Double(value), s > 0 else { return .failure(UsageError("bad --stats-interval \(value)")) }; options.statsInterval = .milliseconds(Int(s * 1000))
            default: return .failure(UsageError("unknown option \(flag)\n\(usage)"))
            }
        }
        return .success(options)
    }
}

/// A command-line mistake (or `--help`): the text to print.
struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
