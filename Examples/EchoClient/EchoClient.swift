import ExampleSupport
import RingLoop
#if canImport(Glibc)
import Glibc
#endif

/// Load generator for an echo server: N connections, each keeping D messages
/// of S bytes in flight for T seconds; every echoed byte is checked.
///
///     swift run -c release echo-client --port 7007 --connections 100 --size 64 --depth 4 --duration 10
@main
enum EchoClient {
    static func main() {
        let options: ClientOptions
        do {
            options = try ClientOptions.parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            error.exit()
        }
        do {
            let errors = try run(options)
            exit(errors == 0 ? 0 : 1)
        } catch {
            say("echo-client: \(error)")
            exit(1)
        }
    }

    static func run(_ options: ClientOptions) throws -> Int {
        var limit = rlimit()
        getrlimit(RLIMIT_NOFILE_RESOURCE, &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(RLIMIT_NOFILE_RESOURCE, &limit)

        let group = try EventLoopGroup(numberOfLoops: options.loops)
        defer { try? group.syncShutdownGracefully() }
        let address = try SocketAddress(ipAddress: options.host, port: options.port)
        let source = MessageSource(size: options.size)

        // Connect everything first (a window of 256 connects in flight keeps
        // the server's SYN queue from overflowing).
        var connections: [TCPConnection] = []
        var pending: [Future<TCPConnection>] = []
        for i in 0..<options.connections {
            pending.append(TCPConnection.connect(to: address, on: group.loops[i % group.loops.count], timeout: .seconds(10)))
            if pending.count == 256 || i == options.connections - 1 {
                for future in pending { connections.append(try future.wait()) }
                pending.removeAll()
            }
        }

        if options.hold > .zero {
            say("echo-client: \(connections.count) connections open, idle for \(options.hold)")
            let micros = options.hold.components.seconds * 1_000_000 + options.hold.components.attoseconds / 1_000_000_000_000
            usleep(UInt32(clamping: micros))
        }
        if options.duration == .zero {
            for connection in connections { try? connection.close().wait() }
            return 0
        }

        // Run: each loop drives its own connections and reports when they finish.
        let start = Deadline.now() + .milliseconds(50)
        let end = start + options.duration
        let finished: [Future<LoadReport>] = group.loops.enumerated().map { index, loop in
            let mine = stride(from: index, to: connections.count, by: group.loops.count).map { connections[$0] }
            let promise = loop.makePromise(of: LoadReport.self)
            loop.execute {
                let stats = LoadStats()
                stats.unfinished = mine.count
                stats.onAllFinished = { promise.succeed(LoadReport(stats)) }
                if mine.isEmpty { promise.succeed(LoadReport(stats)); return }
                let handlers = LoopConfined(mine.map { _ in LoadConnection(source: source, depth: options.depth, stats: stats) })
                loop.schedule(at: start) {
                    for (connection, handler) in zip(mine, handlers.value) { handler.start(connection, until: end) }
                }
                loop.schedule(at: end) {
                    for (connection, handler) in zip(mine, handlers.value) { handler.stop(connection) }
                }
            }
            return promise.future
        }
        var total = LoadReport()
        for future in finished { total.merge(try future.wait()) }

        let seconds = Double(options.duration.components.seconds) + Double(options.duration.components.attoseconds) / 1e18
        let mib = Double(total.bytes) / 1_048_576 / seconds
        say("echo-client: connections=\(options.connections) size=\(options.size) depth=\(options.depth)"
              + " duration=\(seconds)s msgs=\(total.messages) msgs/s=\(Int(Double(total.messages) / seconds))"
              + " MiB/s=\((mib * 10).rounded() / 10) p50=\(total.latencies.quantile(0.5))us"
              + " p99=\(total.latencies.quantile(0.99))us errors=\(total.errors)")
        return total.errors
    }
}

/// What one loop's connections measured (handed across threads once, at the end).
struct LoadReport: Sendable {
    var latencies = LatencyHistogram()
    var messages = 0
    var bytes = 0
    var errors = 0

    init() {}

    init(_ stats: LoadStats) {
        latencies = stats.latencies
        messages = stats.messages
        bytes = stats.bytes
        errors = stats.errors
    }

    mutating func merge(_ other: LoadReport) {
        latencies.merge(other.latencies)
        messages += other.messages
        bytes += other.bytes
        errors += other.errors
    }
}

let RLIMIT_NOFILE_RESOURCE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)

/// A value used only on one event loop's thread, carried into that loop's
/// scheduled closures.
// Safe to share: created on the loop and only touched by closures that run on it.
final class LoopConfined<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Writes a line to standard output, unbuffered (the output may be a pipe).
func say(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let n = write(1, bytes.baseAddress! + offset, bytes.count - offset)
            if n <= 0 { return }
            offset += n
        }
    }
}
