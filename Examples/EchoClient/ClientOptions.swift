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

    static func parse(_ arguments: [String]) -> Result<ClientOptions, UsageError> {
        var options = ClientOptions()
        var loopsGiven = false
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
            case "--port": guard let n = int(1...65535) else { return .failure(UsageError("bad --port \(value)")) }; options.port = n
            case "--connections": guard let n = int(1...1_000_000) else { return .failure(UsageError("bad --connections \(value)")) }; options.connections = n
            case "--size": guard let n = int(1...(64 << 20)) else { return .failure(UsageError("bad --size \(value)")) }; options.size = n
            case "--depth": guard let n = int(1...4096) else { return .failure(UsageError("bad --depth \(value)")) }; options.depth = n
            case "--duration": guard let s = Double(value), s >= 0 else { return .failure(UsageError("bad --duration \(value)")) }; options.duration = .milliseconds(Int(s * 1000))
            case "--hold": guard let s = Double(value), s >= 0 else { return .failure(UsageError("bad --hold \(value)")) }; options.hold = .milliseconds(Int(s * 1000))
            case "--loops": guard let n = int(1...1024) else { return .failure(UsageError("bad --loops \(value)")) }; options.loops = n; loopsGiven = true
            default: return .failure(UsageError("unknown option \(flag)\n\(usage)"))
            }
        }
        if !loopsGiven { options.loops = max(1, min(System.coreCount, options.connections)) }
        return .success(options)
    }
}

/// A command-line mistake (or `--help`): the text to print.
struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
