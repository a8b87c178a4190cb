#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ArgumentParser
import Foundation

@main
struct RingLoopBench: ParsableCommand {
    /// A ProcessPool worker, or a one-job process of the process section, does its work and
    /// exits here; anything else is the benchmark.
    static func main() {
        ProcessSection.runWorkerIfRequested()
        main(nil)
    }

    static let configuration = CommandConfiguration(
        commandName: "ringloop-bench",
        abstract: "Runs RingLoop and its peers through the same benchmarks and reports ratios.",
        discussion: """
            echo: for every connection count and message size, each server (c, blocking, nio, \
            tokio, ringloop-epoll, ringloop) is started, bench-load runs against it, and the server's CPU time and RSS \
            are sampled over the measured window; servers are interleaved per point. Then an \
            open-loop pass offers every server the same rate at a few points.

            filecopy: RingLoop's file-copy, a blocking read/write loop (bench-copy) and cp copy \
            one page-cache-warm file, round after round; every copy is compared with the source.

            offload: ThreadPool against a thread per job, Dispatch and detached tasks (in process).

            sync: AsyncLock, AsyncSemaphore and AsyncQueue under N tasks against a pthread mutex, \
            sem_t and a mutex + condvar queue under N threads (in process).

            switch: one hand-off between two tasks on one loop, on two loops, two threads (futex, \
            condvar, pipe) and two processes (pipe), on one core and across two (bench-switch).

            Every section checks what it measures and the exit status is 1 when any check failed.
            """
    )

    @Option(name: .customLong("section"), help: "Sections to run (repeatable).")
    var sections: [SectionID] = SectionID.allCases

    @Flag(help: "A quick subset of every section, a few minutes: echo at 1 and 100 connections × 64 B and 4 KiB, 1 s each; a 256 MiB copy; short offload and sync runs.")
    var quick = false

    @Option(help: "Server kinds in table order, comma-separated.")
    var servers = "c,blocking,nio,tokio,ringloop-epoll,ringloop"

    @Option(help: "Connection counts, comma-separated (default 1,100,1000,10000).")
    var connections: String?

    @Option(help: "Message sizes in bytes, comma-separated (default 64,4096,65536).")
    var sizes: String?

    @Option(help: "Measured seconds per echo run (default 5, quick 1).")
    var duration: Double?

    @Option(help: "Warm-up seconds before each measured echo window (default 1, quick 0.25).")
    var warmup: Double?

    @Option(help: "Messages in flight per connection (closed loop).")
    var depth = 1

    @Option(help: "Run the whole echo grid open loop at this total offered msgs/s (latency from the scheduled send time) instead of closed loop.")
    var rate: Double?

    @Option(help: "Open-loop pass after the closed-loop grid: connection counts (default 100,1000; quick 100).")
    var openConnections: String?

    @Option(help: "Open-loop pass: message sizes (default 64,4096; quick 64).")
    var openSizes: String?

    @Option(help: "Open-loop pass: offered msgs/s (default: half the slowest server's closed-loop rate at each point).")
    var openRate: Double?

    @Flag(help: "Skip the open-loop pass.")
    var noOpenLoop = false

    @Option(help: "filecopy: file size in MiB (default 1024, quick 256).")
    var copySizeMib: Int?

    @Option(help: "filecopy: rounds (default 5, quick 2).")
    var copyRounds: Int?

    @Option(help: "filecopy: directory for the temporary files (the file system measured).")
    var copyDir = "/tmp"

    @Option(help: "filecopy: the RingLoop copier, e.g. \"/path/file-copy -q\"; SRC and DST are appended (default: file-copy next to this executable, else in the repository's .build/release).")
    var fileCopyCmd: String?

    @Option(help: "bench-load threads.")
    var loadThreads = 1

    @Option(help: "Server threads/event loops (--threads for c and ringloop, --loops for nio).")
    var serverThreads = 1

    @Option(help: "Command that starts the RingLoop echo server, e.g. \"/path/echo-server --threads 1\"; --port 0 is appended.")
    var ringloopServerCmd: String?

    @Option(help: "Where the bench-* executables are (default: next to this one).")
    var binDir: String?

    @Option(help: "JSON results file.")
    var json = "bench-results.json"

    @Option(help: "SVG chart file.")
    var chart = "bench-chart.svg"

    mutating func validate() throws {
        guard depth >= 1 else { throw ValidationError("--depth must be at least 1") }
        guard loadThreads >= 1, serverThreads >= 1 else { throw ValidationError("thread counts must be at least 1") }
        if let rate, rate <= 0 { throw ValidationError("--rate must be positive") }
        if let openRate, openRate <= 0 { throw ValidationError("--open-rate must be positive") }
        if let copySizeMib, copySizeMib < 1 || copySizeMib > 65536 { throw ValidationError("--copy-size-mib must be in [1, 65536]") }
        if let copyRounds, copyRounds < 1 { throw ValidationError("--copy-rounds must be at least 1") }
        _ = try intList(openConnections, name: "--open-connections")
        _ = try intList(openSizes, name: "--open-sizes")
        if let duration, duration <= 0 || duration > 600 { throw ValidationError("--duration must be in (0, 600]") }
        if let warmup, warmup < 0 || warmup > 600 { throw ValidationError("--warmup must be in [0, 600]") }
        _ = try intList(connections, name: "--connections")
        _ = try intList(sizes, name: "--sizes")
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        ChildRegistry.installSignalHandlers()
        let bin = binDir ?? Self.ownDirectory()
        let machine = MachineDescription.current()
        var notes: [String] = []
        // Servers and the load generator matter only to the echo section.
        let echo = sections.contains(.echo)
        let specs = echo ? try resolveServers(bin: bin, notes: &notes) : []
        guard !echo || !specs.isEmpty else { throw ValidationError("no server to run") }
        let loadPath = bin + "/bench-load"
        guard !echo || access(loadPath, X_OK) == 0 else {
            throw ValidationError("\(loadPath) not found: build the package first (swift build -c release)")
        }
        let copyTools = sections.contains(.filecopy) ? try resolveCopyTools(bin: bin) : []
        let microPath = sections.contains(.micro) ? try resolveMicro(bin: bin) : ""
        notes.forEach { log("note: " + $0) }
        log("machine: \(machine.summary)")

        var reports: [any SectionReport] = []
        for id in sections {
            let section: any BenchmarkSection
            switch id {
            case .echo:
                let conns = try intList(connections, name: "--connections") ?? (quick ? [1, 100] : [1, 100, 1000, 10000])
                let sz = try intList(sizes, name: "--sizes") ?? (quick ? [64, 4096] : [64, 4096, 65536])
                var config = EchoConfig(
                    connections: conns, sizes: sz,
                    duration: duration ?? (quick ? 1 : 5), warmup: warmup ?? (quick ? 0.25 : 1),
                    depth: depth, rate: rate, loadThreads: loadThreads, servers: specs,
                    reference: specs.contains { $0.name == "ringloop" } ? "ringloop" : specs[0].name,
                    notes: notes)
                if !noOpenLoop {
                    config.openConnections = try intList(openConnections, name: "--open-connections")
                        ?? (quick ? [100] : [100, 1000])
                    config.openSizes = try intList(openSizes, name: "--open-sizes") ?? (quick ? [64] : [64, 4096])
                    config.openRate = openRate
                }
                section = EchoSection(config: config, loadPath: loadPath)
            case .filecopy:
                let config = FileCopyConfig(
                    sizeBytes: (copySizeMib ?? (quick ? 256 : 1024)) << 20,
                    rounds: copyRounds ?? (quick ? 2 : 5),
                    parentDirectory: copyDir, tools: copyTools,
                    notes: ["cp is GNU coreutils: it copies in the kernel (copy_file_range) where the file system allows",
                            "bench-copy: one thread, read(2)/write(2) of 512 KiB blocks; file-copy: its defaults "
                            + "(a pipeline of io_uring reads and writes; see Examples/FileCopy/README.md)"])
                section = FileCopySection(config: config)
            case .offload:
                section = try OffloadSection.make(quick: quick)
            case .sync:
                section = try SyncSection.make(quick: quick)
            case .switch:
                let path = bin + "/bench-switch"
                guard access(path, X_OK) == 0 else {
                    throw ValidationError("\(path) not found: build the package first (swift build -c release)")
                }
                section = SwitchSection(roundTrips: quick ? 20_000 : 200_000, rounds: quick ? 2 : 5, switchPath: path)
            case .process:
                section = try ProcessSection.make(quick: quick)
            case .micro:
                section = RuntimeMicroSection(microPath: microPath, quick: quick)
            }
            reports.append(section.run())
        }

        for report in reports {
            print("")
            print(report.table())
        }

        let document = ResultsDocument(
            machine: machine, quick: quick, binDir: bin, sections: reports.map(AnySectionReport.init))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try encoder.encode(document).write(to: URL(fileURLWithPath: json))
        let figures = reports.compactMap { $0.chart(machine: machine) }
        // Not atomically: an atomic write renames a temporary file over the path, which
        // would replace `--chart /dev/null` (a device) with a regular file.
        try SVGFigure.document(figures).write(toFile: chart, atomically: false, encoding: .utf8)
        print("\nwrote \(json) and \(chart)")

        let failures = reports.flatMap(\.failures)
        if !failures.isEmpty {
            print("\n\(failures.count) run(s) failed:")
            failures.forEach { print("  " + $0) }
            throw ExitCode(1)
        }
    }

    private func resolveServers(bin: String, notes: inout [String]) throws -> [ServerSpec] {
        var specs: [ServerSpec] = []
        let threads = String(serverThreads)
        for name in servers.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            switch name {
            case "c":
                specs.append(ServerSpec(name: name, command: [bin + "/bench-c-server", "--threads", threads]))
            case "blocking":
                specs.append(ServerSpec(name: name, command: [bin + "/bench-blocking-server"]))
            case "nio":
                specs.append(ServerSpec(name: name, command: [bin + "/bench-nio-server", "--loops", threads]))
            case "tokio":
                // Built by scripts/demo with cargo against Debian's vendored crates; skipped with a
                // note where cargo or librust-tokio-dev is missing.
                let path = Self.repositoryRoot + "/Benchmarks/tokio-echo/target/release/bench-tokio-server"
                if access(path, X_OK) == 0 {
                    specs.append(ServerSpec(name: name, command: [path, "--threads", threads]))
                } else {
                    notes.append("tokio skipped: \(path) not built (needs cargo and Debian's librust-tokio-dev; "
                                 + "scripts/demo builds it: cd Benchmarks/tokio-echo && cargo build --release)")
                }
            case "ringloop", "ringloop-epoll":
                var command: [String]
                if let cmd = ringloopServerCmd {
                    command = splitCommandLine(cmd)
                    guard !command.isEmpty else { throw ValidationError("--ringloop-server-cmd is empty") }
                } else if access(bin + "/bench-ringloop-server", X_OK) == 0 {
                    command = [bin + "/bench-ringloop-server"]
                } else {
                    throw ValidationError("no bench-ringloop-server in \(bin): build the package first "
                                          + "(swift build -c release), or give --ringloop-server-cmd")
                }
                if serverThreads > 1 { command += ["--threads", threads] }
                // The same server forced onto the epoll backend (what runs where io_uring is
                // denied); env execs it, so the pid measured is the server's.
                if name == "ringloop-epoll" { command = ["/usr/bin/env", "RINGLOOP_BACKEND=epoll"] + command }
                specs.append(ServerSpec(name: name, command: command))
            default:
                throw ValidationError("unknown server kind '\(name)' (known: c, blocking, nio, tokio, ringloop, ringloop-epoll)")
            }
        }
        return specs
    }

    /// ringloop (file-copy), blocking (bench-copy) and cp, in that order.
    private func resolveCopyTools(bin: String) throws -> [CopyTool] {
        var ringloop: [String]
        if let cmd = fileCopyCmd {
            ringloop = splitCommandLine(cmd)
            guard !ringloop.isEmpty else { throw ValidationError("--file-copy-cmd is empty") }
        } else {
            let candidates = [bin + "/file-copy", Self.repositoryRoot + "/.build/release/file-copy"]
            guard let found = candidates.first(where: { access($0, X_OK) == 0 }) else {
                throw ValidationError("""
                    RingLoop's file-copy not found (looked for \(candidates.joined(separator: ", "))). Build it \
                    next to ringloop-bench: swift build -c release --package-path Benchmarks \
                    --scratch-path Benchmarks/.build --product file-copy; or give --file-copy-cmd, or \
                    leave filecopy out (--section echo --section offload --section sync).
                    """)
            }
            ringloop = [found, "-q"]
        }
        if !ringloop.contains("SRC") { ringloop += ["SRC", "DST"] }
        let blocking = bin + "/bench-copy"
        guard access(blocking, X_OK) == 0 else {
            throw ValidationError("\(blocking) not found: build the package first (swift build -c release)")
        }
        return [
            CopyTool(name: "ringloop", command: ringloop),
            CopyTool(name: "blocking", command: [blocking, "SRC", "DST"]),
            CopyTool(name: "cp", command: ["cp", "SRC", "DST"]),
        ]
    }

    /// ringloop-micro (a product of the root package): next to this executable, else in the
    /// repository's release build.
    private func resolveMicro(bin: String) throws -> String {
        let candidates = [bin + "/ringloop-micro", Self.repositoryRoot + "/.build/release/ringloop-micro"]
        guard let found = candidates.first(where: { access($0, X_OK) == 0 }) else {
            throw ValidationError("""
                ringloop-micro not found (looked for \(candidates.joined(separator: ", "))). Build it next \
                to ringloop-bench: swift build -c release --package-path Benchmarks --scratch-path \
                Benchmarks/.build --product ringloop-micro; or leave micro out (--section ...).
                """)
        }
        return found
    }

    /// The repository this harness was built from (Benchmarks/ is one level down).
    static var repositoryRoot: String {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(4)  // Benchmarks/Sources/ringloop-bench/RingLoopBench.swift
        return parts.joined(separator: "/")
    }

    private func intList(_ text: String?, name: String) throws -> [Int]? {
        guard let text else { return nil }
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("\(name) takes positive integers separated by commas")
        }
        return values.compactMap { $0 }
    }

    private static func ownDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return "." }
        let path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
    }
}

/// The JSON results file.
struct ResultsDocument: Encodable {
    var tool = "ringloop-bench"
    var machine: MachineDescription
    var quick: Bool
    var binDir: String
    var sections: [AnySectionReport]
}
