#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ArgumentParser
import Foundation

@main
struct RingLoopBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ringloop-bench",
        abstract: "Runs RingLoop and its peers through the same benchmarks and reports ratios.",
        discussion: """
            Echo: for every connection count and message size, each server (c, blocking, nio, \
            ringloop) is started, bench-load runs against it, and the server's CPU time and RSS \
            are sampled over the measured window. Servers are interleaved per point.

            The ringloop server comes from --ringloop-server-cmd, else from a \
            bench-ringloop-server executable next to this one; without either it is skipped.
            """
    )

    @Option(name: .customLong("section"), help: "Sections to run (repeatable).")
    var sections: [SectionID] = SectionID.allCases

    @Flag(help: "A quick subset: 1 and 100 connections, 64 B and 4 KiB, 2 s each (about 30-40 s).")
    var quick = false

    @Option(help: "Server kinds in table order, comma-separated.")
    var servers = "c,blocking,nio,ringloop"

    @Option(help: "Connection counts, comma-separated (default 1,100,1000,10000).")
    var connections: String?

    @Option(help: "Message sizes in bytes, comma-separated (default 64,4096,65536).")
    var sizes: String?

    @Option(help: "Measured seconds per run (default 5, quick 2).")
    var duration: Double?

    @Option(help: "Warm-up seconds before each measured window (default 1, quick 0.25).")
    var warmup: Double?

    @Option(help: "Messages in flight per connection (closed loop).")
    var depth = 1

    @Option(help: "Open loop: total offered msgs/s (latency from the scheduled send time).")
    var rate: Double?

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
        let specs = try resolveServers(bin: bin, notes: &notes)
        guard !specs.isEmpty else { throw ValidationError("no server to run") }
        let loadPath = bin + "/bench-load"
        guard access(loadPath, X_OK) == 0 else {
            throw ValidationError("\(loadPath) not found: build the package first (swift build -c release)")
        }
        notes.forEach { log("note: " + $0) }

        var reports: [any SectionReport] = []
        for id in sections {
            let section: any BenchmarkSection
            switch id {
            case .echo:
                let conns = try intList(connections, name: "--connections") ?? (quick ? [1, 100] : [1, 100, 1000, 10000])
                let sz = try intList(sizes, name: "--sizes") ?? (quick ? [64, 4096] : [64, 4096, 65536])
                let config = EchoConfig(
                    connections: conns, sizes: sz,
                    duration: duration ?? (quick ? 2 : 5), warmup: warmup ?? (quick ? 0.25 : 1),
                    depth: depth, rate: rate, loadThreads: loadThreads, servers: specs,
                    reference: specs.contains { $0.name == "ringloop" } ? "ringloop" : specs[0].name,
                    notes: notes)
                section = EchoSection(config: config, loadPath: loadPath)
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
        try SVGFigure.document(figures).write(toFile: chart, atomically: true, encoding: .utf8)
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
            case "ringloop":
                var command: [String]
                if let cmd = ringloopServerCmd {
                    command = splitCommandLine(cmd)
                    guard !command.isEmpty else { throw ValidationError("--ringloop-server-cmd is empty") }
                } else if access(bin + "/bench-ringloop-server", X_OK) == 0 {
                    command = [bin + "/bench-ringloop-server"]
                } else {
                    notes.append("ringloop skipped: no --ringloop-server-cmd and no bench-ringloop-server "
                                 + "in \(bin) (see the RingLoop slot in Benchmarks/Package.swift)")
                    continue
                }
                if serverThreads > 1 { command += ["--threads", threads] }
                specs.append(ServerSpec(name: name, command: command))
            default:
                throw ValidationError("unknown server kind '\(name)' (known: c, blocking, nio, ringloop)")
            }
        }
        return specs
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
