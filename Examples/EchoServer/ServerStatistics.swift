import RingLoop
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The server's statistics output, for the benchmark harness and for people
/// measuring it (not needed to understand the echo service itself): the
/// periodic `stats` line of `--stats-interval` and the summary line printed
/// at exit.
enum ServerStatistics {
    /// Prints reads/s, open connections and (with a preloaded malloc counter)
    /// allocations per read every `interval`, from `loop`.
    static func report(every interval: Duration, of states: [LoopState], on loop: EventLoop) -> RepeatedTask {
        let allocations = AllocationCounter()
        let last = Mutex((time: Deadline.now(), reads: 0, allocations: allocations.count))
        return loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let now = Deadline.now()
            let reads = states.reduce(0) { $0 + $1.reads.load(ordering: .relaxed) }
            let allocs = allocations.count
            let previous = last.withLock { value in
                defer { value = (now, reads, allocs) }
                return value
            }
            let seconds = self.seconds(now - previous.time)
            var line = "stats reads/s=\(Int(Double(reads - previous.reads) / seconds)) open=\(states.reduce(0) { $0 + $1.openCount.load(ordering: .relaxed) })"
            if let allocs, let before = previous.allocations, reads > previous.reads {
                line += " allocs/read=\(String(Double(allocs - before) / Double(reads - previous.reads)))"
            }
            FileHandleOut.stdout(line)
        }
    }

    /// The line printed at exit: connections, reads, bytes, CPU time and max RSS.
    static func summary(of states: [LoopState], loops: Int, since started: Deadline) -> String {
        let seconds = seconds(Deadline.now() - started)
        let reads = states.reduce(0) { $0 + $1.reads.load(ordering: .relaxed) }
        let bytes = states.reduce(0) { $0 + $1.bytes.load(ordering: .relaxed) }
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        return "echo-server: loops=\(loops) accepted=\(states.reduce(0) { $0 + $1.accepted.load(ordering: .relaxed) })"
            + " rejected=\(states.reduce(0) { $0 + $1.rejected.load(ordering: .relaxed) })"
            + " reads=\(reads) bytes=\(bytes) uptime=\(format(seconds))s cpu=\(format(cpu))s"
            + (reads > 0 ? " cpu/read=\(format(cpu / Double(reads) * 1e6))us" : "")
            + " maxrss=\(usage.ru_maxrss / 1024)MiB"
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    private static func format(_ x: Double) -> String {
        let scaled = (x * 1000).rounded() / 1000
        return "\(scaled)"
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
