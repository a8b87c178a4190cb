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
        do {
            options = try ServerOptions(CommandLine.arguments.dropFirst())
        } catch {
            error.exit()
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
        let statistics = options.statsInterval.map { ServerStatistics.report(every: $0, of: states, on: group.loops[0]) }

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

        FileHandleOut.stdout(ServerStatistics.summary(of: states, loops: options.loops, since: started))
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
