import RingLoop
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// file-copy's entry point: parse the command line, run the copy on an
/// event loop on this thread, print at most one line on failure.
enum FileCopyTool {
    static func main() -> Never {
        let status: Int32
        do {
            let options = try CopyOptions.parse(Array(CommandLine.arguments.dropFirst()))
            PartialFile.installHandlers()
            status = run(options)
        } catch {
            report(error.message, toStandardOutput: error.exitStatus == 0)
            status = error.exitStatus
        }
        exit(status)
    }

    /// Runs the copy with this thread as the loop's; returns the exit status.
    private static func run(_ options: CopyOptions) -> Int32 {
        let outcome = Outcome()
        var configuration = EventLoop.Configuration()
        let cpus = System.availableCPUs
        if cpus.count >= 2, options.splitCPUs ?? aCPUIsIdle(of: cpus.count) {
            // The loop stays where the scheduler put this thread (a free CPU).
            let home = System.currentCPU.flatMap { cpus.contains($0) ? $0 : nil } ?? cpus[0]
            configuration.cpuAffinity = [home]
            configuration.kernelWorkerAffinity = cpus.filter { $0 != home }
        }
        do {
            try EventLoop.runOnCurrentThread(configuration: configuration) { loop in
                Task(executorPreference: loop) {
                    do throws(CopyError) {
                        try await FileCopier(options: options, loop: loop).run()
                    } catch {
                        outcome.error.withLock { $0 = error }
                    }
                    loop.shutdownGracefully {}
                }
            }
        } catch {
            report("file-copy: \(error)", toStandardOutput: false)
            return 1
        }
        guard let error = outcome.error.withLock({ $0 }) else { return 0 }
        report(error.message, toStandardOutput: false)
        return error.exitStatus
    }

    /// Whether a CPU is idle right now: fewer threads are runnable than
    /// there are `cpus`, counting this one (the fourth field of
    /// /proc/loadavg, "runnable/total"; the load averages themselves lag by
    /// a minute). Unknown counts as busy.
    private static func aCPUIsIdle(of cpus: Int) -> Bool {
        let fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return false }
        let fields = String(decoding: buffer[..<n], as: UTF8.self).split(separator: " ")
        guard fields.count >= 4, let slash = fields[3].firstIndex(of: "/"),
              let runnable = Int(fields[3][..<slash]) else { return false }
        return runnable < cpus
    }

    private static func report(_ message: String, toStandardOutput: Bool) {
        var text = message + "\n"
        text.withUTF8 { bytes in _ = write(toStandardOutput ? STDOUT_FILENO : STDERR_FILENO, bytes.baseAddress, bytes.count) }
    }
}

/// The copy's failure, handed from the copy task to the thread that ran the loop.
private final class Outcome: Sendable {
    let error = Mutex<CopyError?>(nil)
}
