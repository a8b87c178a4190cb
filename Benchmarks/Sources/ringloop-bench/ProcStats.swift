#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads a whole (small) file, such as one under /proc.
func readTextFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16384)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Resource figures of a running process, from /proc.
enum ProcStats {
    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// utime + stime of every thread (live and exited) of `pid`, in microseconds; nil once
    /// the process is gone. Resolution is one clock tick (10 ms at USER_HZ 100).
    static func cpuMicroseconds(_ pid: pid_t) -> Double? {
        guard let stat = readTextFile("/proc/\(pid)/stat"),
              let close = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after "(comm)": state is field 3, utime 14, stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let utime = Double(fields[11]), let stime = Double(fields[12])
        else { return nil }
        return (utime + stime) / ticksPerSecond * 1e6
    }

    /// VmRSS of `pid` in MiB.
    static func rssMiB(_ pid: pid_t) -> Double? {
        guard let status = readTextFile("/proc/\(pid)/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kb = line.split(separator: " ").dropFirst().first.flatMap { Double($0) }
            return kb.map { $0 / 1024 }
        }
        return nil
    }
}

/// Machine-wide CPU time from the first line of /proc/stat, in clock ticks over all CPUs.
struct SystemCPUTimes {
    var busy: Double
    var softirq: Double
    var total: Double

    static func now() -> SystemCPUTimes? {
        guard let stat = readTextFile("/proc/stat"),
              let line = stat.split(separator: "\n").first, line.hasPrefix("cpu ")
        else { return nil }
        // user nice system idle iowait irq softirq steal ...
        let v = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard v.count >= 8 else { return nil }
        let total = v[0..<8].reduce(0, +)
        return SystemCPUTimes(busy: total - v[3] - v[4], softirq: v[6], total: total)
    }

    /// Busy and softirq time between two samples, in percent of one CPU (200 = two CPUs busy).
    static func percent(from a: SystemCPUTimes, to b: SystemCPUTimes, cpus: Int) -> (busy: Double, softirq: Double)? {
        let total = b.total - a.total
        guard total > 0 else { return nil }
        let scale = 100 * Double(cpus) / total
        return ((b.busy - a.busy) * scale, (b.softirq - a.softirq) * scale)
    }
}
