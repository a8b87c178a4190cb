import RingLoop
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A TCP echo server: one event loop per core, each with its own
/// SO_REUSEPORT listener, serving its connections with the zero-allocation
/// callback API.
///
///     swift run -c release echo-server --port 7007 --loops 4
///
/// SIGINT or SIGTERM shuts it down gracefully: stop accepting, let every
/// connection send what it has already received (up to --drain-timeout), close,
/// print one line of statistics and exit 0.
@main
enum EchoServer {
    static func main() {
        let options: ServerOptions
        switch ServerOptions.parse(Array(CommandLine.arguments.dropFirst())) {
        case let .success(parsed): options = parsed
        case let .failure(usage):
            FileHandleOut.stderr(usage.message)
            exit(usage.message == ServerOptions.usage ? 0 : 2)
        }
        // SIGINT/SIGTERM are read on a loop (signalfd), which works only if
        // no thread takes them the classic way: block them here, before any
        // thread starts, so every thread inherits the mask.
        Signal.block([.interrupt, .terminate])

        do {
            try run(options)
        } catch {
            FileHandleOut.stderr("echo-server: \(error)")
            exit(1)
        }
        exit(0)
    }

    static func run(_ options: ServerOptions) throws {
        let group = try EventLoopGroup(numberOfLoops: options.loops)
        let states = group.loops.map { LoopState(loop: $0) }
        let address = try SocketAddress(ipAddress: options.host, port: options.port)
        var listenerOptions = TCPListener.Options()
        listenerOptions.backlog = options.backlog
        let listeners = try TCPListener.bind(to: address, on: group, options: listenerOptions)
        let active = Atomic<Int>(0)
        let maxConnections = options.maxConnections
        for (listener, state) in zip(listeners, states) {
            listener.start { connection in
                LoopState.bump(state.accepted)
                guard active.add(1, ordering: .relaxed).newValue <= maxConnections else {
                    active.subtract(1, ordering: .relaxed)
                    LoopState.bump(state.rejected)
                    connection.close()
                    return
                }
                state.add(connection)
                connection.setHandler(EchoConnection(state: state) { active.subtract(1, ordering: .relaxed) })
            }
        }
        // The benchmark harness reads the port from the first line.
        FileHandleOut.stdout("PORT \(listeners[0].localAddress.port ?? 0)")
        let started = Deadline.now()
        // Ask for the shutdown signal first, so one that comes early is not missed.
        let shutdownSignal = group.loops[0].nextSignal([.interrupt, .terminate])

        // Periodic statistics, if asked, printed from the first loop.
        var statistics: RepeatedTask?
        if let interval = options.statsInterval {
            let allocations = AllocationCounter()
            let last = Mutex((time: started, reads: 0, allocations: allocations.count))
            statistics = group.loops[0].scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                let now = Deadline.now()
                let reads = states.reduce(0) { $0 + $1.reads.load(ordering: .relaxed) }
                let allocs = allocations.count
                let previous = last.withLock { value in
                    defer { value = (now, reads, allocs) }
                    return value
                }
                let elapsed = now - previous.time
                let seconds = Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds)
                var line = "stats reads/s=\(Int(Double(reads - previous.reads) / seconds)) open=\(states.reduce(0) { $0 + $1.openCount.load(ordering: .relaxed) })"
                if let allocs, let before = previous.allocations, reads > previous.reads {
                    line += " allocs/read=\(String(Double(allocs - before) / Double(reads - previous.reads)))"
                }
                FileHandleOut.stdout(line)
            }
        }

        // Wait for SIGINT/SIGTERM (this thread blocks; the loops serve).
        _ = try shutdownSignal.wait()
        statistics?.cancel()

        // Graceful shutdown: stop accepting…
        for listener in listeners { _ = try? listener.close().wait() }
        // …let each connection send what it already received, then close; a
        // connection whose peer does not read it within the drain timeout is
        // reset by the close itself.
        let drainTimeout = options.drainTimeout
        for state in states {
            state.loop.execute {
                for connection in state.connections { connection.close(afterPendingWrites: true, timeout: drainTimeout) }
            }
        }
        while states.contains(where: { $0.openCount.load(ordering: .relaxed) > 0 }) { usleep(1_000) }
        try group.syncShutdownGracefully()

        let elapsed = Deadline.now() - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let reads = states.reduce(0) { $0 + $1.reads.load(ordering: .relaxed) }
        let bytes = states.reduce(0) { $0 + $1.bytes.load(ordering: .relaxed) }
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        FileHandleOut.stdout(
            "echo-server: loops=\(options.loops) accepted=\(states.reduce(0) { $0 + $1.accepted.load(ordering: .relaxed) })"
            + " rejected=\(states.reduce(0) { $0 + $1.rejected.load(ordering: .relaxed) })"
            + " reads=\(reads) bytes=\(bytes) uptime=\(format(seconds))s cpu=\(format(cpu))s"
            + (reads > 0 ? " cpu/read=\(format(cpu / Double(reads) * 1e6))us" : "")
            + " maxrss=\(usage.ru_maxrss / 1024)MiB"
        )
    }

    static func format(_ x: Double) -> String {
        let scaled = (x * 1000).rounded() / 1000
        return "\(scaled)"
    }
}

/// Unbuffered line output (stdout is a pipe under the benchmark harness).
enum FileHandleOut {
    static func stdout(_ line: String) { write(1, line + "\n") }
    static func stderr(_ line: String) { write(2, line + "\n") }
    private static func write(_ fd: Int32, _ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n <= 0 { return }
                offset += n
            }
        }
    }
}

/// Reads the allocation counter of an LD_PRELOADed malloc interposer that
/// exports `ringloop_malloc_count` (see README.md here); nil without one.
struct AllocationCounter: Sendable {
    private let function: (@convention(c) () -> UInt64)?

    init() {
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "ringloop_malloc_count") {
            function = unsafeBitCast(symbol, to: (@convention(c) () -> UInt64).self)
        } else {
            function = nil
        }
    }

    var count: Int? { function.map { Int($0()) } }
}
