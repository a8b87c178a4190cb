#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A file-copy tool under test: the command, in which the words SRC and DST are replaced by
/// the paths.
struct CopyTool: Codable {
    var name: String
    var command: [String]
}

struct FileCopyConfig: Codable {
    var sizeBytes: Int
    var rounds: Int
    /// Where the temporary directory goes (its file system is the one measured).
    var parentDirectory: String
    var tools: [CopyTool]
    var notes: [String]
}

/// One copy by one tool.
struct CopyRun: Codable {
    var tool: String
    var round: Int
    var status = "ok"
    /// From spawning the tool to its exit.
    var seconds: Double = 0
    var mibPerSec: Double = 0
    /// The tool's user and system CPU time (its io_uring workers included).
    var userSeconds: Double = 0
    var systemSeconds: Double = 0

    var ok: Bool { status == "ok" }
}

/// One tool's figures over every round.
struct CopySummary: Codable {
    var tool: String
    var command: [String]
    var medianMibPerSec: Double?
    var minMibPerSec: Double?
    var maxMibPerSec: Double?
    var medianCpuSeconds: Double?
    /// Median over the rounds of RingLoop's MiB/s ÷ this tool's in the same round (>1: RingLoop
    /// faster).
    var ratio: Double?
    var failed: Bool
}

/// Copies one large, page-cache-warm file with each tool, round after round (the order
/// rotates each round). Untimed around each copy: the copy is compared with the source byte
/// for byte, deleted, and the file system synced, so no copy pays for another's writeback.
struct FileCopySection: BenchmarkSection {
    let id = SectionID.filecopy
    var config: FileCopyConfig

    func run() -> any SectionReport {
        var report = FileCopyReport(config: config)
        var template = Array("\(config.parentDirectory)/ringloop-bench-XXXXXX".utf8CString)
        guard let dirPointer = mkdtemp(&template) else {
            report.setupFailure = "mkdtemp in \(config.parentDirectory): \(String(cString: strerror(errno)))"
            log("!!! filecopy: \(report.setupFailure ?? "")")
            return report
        }
        let directory = String(cString: dirPointer)
        let source = directory + "/source.bin"
        let destination = directory + "/copy.bin"
        ChildRegistry.removeOnSignal(directory)
        ChildRegistry.removeOnSignal(source)
        ChildRegistry.removeOnSignal(destination)
        defer {
            unlink(destination)
            unlink(source)
            rmdir(directory)
            ChildRegistry.forgetPaths()
        }

        log("filecopy: writing a \(byteSize(config.sizeBytes)) source file in \(directory)")
        do {
            try FileCopySection.makeSource(source, size: config.sizeBytes)
        } catch {
            report.setupFailure = "\(error)"
            log("!!! filecopy: \(error)")
            return report
        }

        // One untimed copy first: the first copy after the source was written
        // ran at a tenth of the speed of the others (whichever tool it was; the
        // rotation made it RingLoop's every time), paying for the page cache
        // settling after the source's write-back.
        if let first = config.tools.first {
            let warmUp = copyOnce(first, source: source, destination: destination)
            log("filecopy: untimed warm-up copy (\(first.name)): \(warmUp.ok ? "\(fixed(warmUp.mibPerSec, 0)) MiB/s" : warmUp.status)")
            unlink(destination)
            sync()
        }
        let n = config.tools.count
        for round in 0..<config.rounds {
            for k in 0..<n {
                let tool = config.tools[(round + k) % n]
                var run = copyOnce(tool, source: source, destination: destination)
                run.round = round
                if run.ok {
                    log("filecopy [\(round + 1)/\(config.rounds)] \(tool.name): \(fixed(run.mibPerSec, 0)) MiB/s")
                } else {
                    log("!!! filecopy [\(round + 1)/\(config.rounds)] \(tool.name): \(run.status)")
                }
                report.runs.append(run)
                unlink(destination)
                sync()
            }
        }
        report.summarize()
        return report
    }

    private func copyOnce(_ tool: CopyTool, source: String, destination: String) -> CopyRun {
        var run = CopyRun(tool: tool.name, round: 0)
        unlink(destination)
        let argv = tool.command.map { $0 == "SRC" ? source : $0 == "DST" ? destination : $0 }
        let start = monotonicSeconds()
        let child: ChildProcess
        do {
            child = try ChildProcess(name: tool.name, argv: argv)
        } catch {
            run.status = "failed: \(error)"
            return run
        }
        guard child.wait(until: start + 600, interval: 0.0005) else {
            child.stop(grace: 0.5)
            run.status = "failed: did not finish in 10 minutes"
            return run
        }
        run.seconds = monotonicSeconds() - start
        guard child.exitCode == 0 else {
            let tail = child.stderr.text.split(separator: "\n").suffix(2).joined(separator: " | ")
            run.status = "failed: \(child.statusText)" + (tail.isEmpty ? "" : " [stderr: \(tail)]")
            return run
        }
        let usage = child.resourceUsage
        run.userSeconds = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        run.systemSeconds = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        run.mibPerSec = Double(config.sizeBytes) / Double(1 << 20) / run.seconds
        if let difference = FileCopySection.compare(source, destination) {
            run.status = "failed: COPY DIFFERS from the source: \(difference)"
        }
        return run
    }

    /// Writes `size` pseudo-random bytes (distinct in every block, so a block written at the
    /// wrong offset is caught), flushes them to disk and leaves them in the page cache.
    static func makeSource(_ path: String, size: Int) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BenchFailure("create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let chunk = 8 << 20
        var buffer = [UInt64](repeating: 0, count: chunk / 8)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var written = 0
        while written < size {
            for i in buffer.indices {
                // xorshift64*
                state ^= state >> 12
                state ^= state << 25
                state ^= state >> 27
                buffer[i] = state &* 0x2545_F491_4F6C_DD1D
            }
            let want = min(chunk, size - written)
            let n = buffer.withUnsafeBytes { write(fd, $0.baseAddress, want) }
            guard n == want else { throw BenchFailure("write \(path): \(n < 0 ? String(cString: strerror(errno)) : "short write")") }
            written += n
        }
        guard fsync(fd) == 0 else { throw BenchFailure("fsync \(path): \(String(cString: strerror(errno)))") }
    }

    /// Compares two files byte for byte; nil when identical, else where they differ.
    static func compare(_ a: String, _ b: String) -> String? {
        let fa = open(a, O_RDONLY | O_CLOEXEC)
        let fb = open(b, O_RDONLY | O_CLOEXEC)
        defer {
            if fa >= 0 { close(fa) }
            if fb >= 0 { close(fb) }
        }
        guard fa >= 0 else { return "cannot open \(a)" }
        guard fb >= 0 else { return "cannot open the copy: \(String(cString: strerror(errno)))" }
        var sa = stat(), sb = stat()
        fstat(fa, &sa)
        fstat(fb, &sb)
        guard sa.st_size == sb.st_size else { return "size \(sb.st_size), expected \(sa.st_size)" }
        let chunk = 8 << 20
        var ba = [UInt8](repeating: 0, count: chunk)
        var bb = [UInt8](repeating: 0, count: chunk)
        var offset = 0
        while offset < Int(sa.st_size) {
            let na = ba.withUnsafeMutableBytes { pread(fa, $0.baseAddress, chunk, off_t(offset)) }
            let nb = bb.withUnsafeMutableBytes { pread(fb, $0.baseAddress, chunk, off_t(offset)) }
            guard na > 0, na == nb else { return "read failed or came up short at byte \(offset)" }
            let same = ba.withUnsafeBytes { pa in
                bb.withUnsafeBytes { pb in
                    guard let a = pa.baseAddress, let b = pb.baseAddress else { return false }
                    return memcmp(a, b, na) == 0
                }
            }
            if !same {
                let first = (0..<na).first { ba[$0] != bb[$0] } ?? 0
                return "first difference at byte \(offset + first)"
            }
            offset += na
        }
        return nil
    }
}

struct FileCopyReport: SectionReport {
    var id = SectionID.filecopy
    var config: FileCopyConfig
    var setupFailure: String?
    var runs: [CopyRun] = []
    var summaries: [CopySummary] = []

    init(config: FileCopyConfig) {
        self.config = config
    }

    var failures: [String] {
        (setupFailure.map { ["filecopy: " + $0] } ?? [])
            + runs.filter { !$0.ok }.map { "filecopy \($0.tool) round \($0.round + 1): \($0.status)" }
    }

    mutating func summarize() {
        let reference = config.tools.first { $0.name == "ringloop" }?.name
        for tool in config.tools {
            let mine = runs.filter { $0.tool == tool.name && $0.ok }
            let rates = mine.map(\.mibPerSec)
            var ratios: [Double] = []
            if let reference {
                for run in mine {
                    if let ref = runs.first(where: { $0.tool == reference && $0.round == run.round && $0.ok }) {
                        ratios.append(ref.mibPerSec / run.mibPerSec)
                    }
                }
            }
            summaries.append(CopySummary(
                tool: tool.name, command: tool.command,
                medianMibPerSec: median(rates), minMibPerSec: rates.min(), maxMibPerSec: rates.max(),
                medianCpuSeconds: median(mine.map { $0.userSeconds + $0.systemSeconds }),
                ratio: median(ratios),
                failed: runs.contains { $0.tool == tool.name && !$0.ok }))
        }
    }

    func table() -> String {
        var t = TextTable(
            headers: ["tool", "command", "MiB/s", "min", "max", "CPU s/copy", "ringloop/x"],
            leftAligned: [0, 1])
        for s in summaries {
            let command = s.command.map { $0.hasPrefix("/") ? String($0.split(separator: "/").last ?? "") : $0 }
                .joined(separator: " ")
            if s.failed {
                t.add([s.tool, command, "FAILED", "", "", "", ""])
            } else {
                t.add([s.tool, command, grouped(s.medianMibPerSec ?? .nan), grouped(s.minMibPerSec ?? .nan),
                       grouped(s.maxMibPerSec ?? .nan), fixed(s.medianCpuSeconds, 2), fixed(s.ratio, 2)])
            }
        }
        var header = "filecopy: \(byteSize(config.sizeBytes)) file, page cache warm, in \(config.parentDirectory); "
            + "median of \(config.rounds) interleaved rounds, each copy timed from spawn to exit and "
            + "compared with the source; ringloop/x = RingLoop MiB/s ÷ this tool's, median over rounds"
        if let setupFailure { header += "\nFAILED: " + setupFailure }
        for note in config.notes { header += "\nnote: " + note }
        return header + "\n" + t.render()
    }

    func chart(machine: MachineDescription) -> SVGFigure? { nil }
}
