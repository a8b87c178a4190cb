import Foundation
import RingLoop

/// The cost of one hand-off: one party wakes the other and goes to sleep. Two tasks on one
/// RingLoop loop (no thread switch at all), two tasks on two loops, two threads (futex,
/// condvar, pipe) and two processes (pipe), pinned to one core and across two. Thread and
/// process figures come from bench-switch (C); the RingLoop ones are measured here.
struct SwitchSection: BenchmarkSection {
    let id = SectionID.switch
    var roundTrips: Int
    var rounds: Int
    var switchPath: String

    func run() -> any SectionReport {
        var report = SwitchReport(roundTrips: roundTrips)
        for round in 0..<rounds {
            log("switch [round \(round + 1)/\(rounds)]")
            for placement in ["same", "across"] where placement == "same" || System.coreCount > 1 {
                if placement == "same" {  // one loop is one thread: it has no "across"
                    record(&report, "tasks, one loop", placement) { try loopHandoff(loops: 1, placement: placement) }
                }
                record(&report, "tasks, two loops", placement) { try loopHandoff(loops: 2, placement: placement) }
            }
            do {
                let child = try ChildProcess(
                    name: "bench-switch", argv: [switchPath, "--round-trips", String(roundTrips)])
                _ = pump(child.readers, until: monotonicSeconds() + 300) { child.poll() }
                // The pipes can reach EOF a moment before the exit is reapable.
                if !child.wait(until: monotonicSeconds() + 10) {
                    child.stop()
                    report.failures.append("bench-switch did not finish")
                    continue
                }
                while let line = child.stdout.takeLine() {
                    guard let data = line.data(using: .utf8),
                          let row = try? JSONDecoder().decode(SwitchLine.self, from: data) else { continue }
                    report.add(kind: row.kind, placement: row.placement, ns: row.nsPerHandoff)
                }
                if child.exitStatus != 0 { report.failures.append("bench-switch exited with status \(child.exitStatus ?? -1)") }
            } catch {
                report.failures.append("bench-switch: \(error)")
            }
        }
        return report
    }

    private func record(_ report: inout SwitchReport, _ kind: String, _ placement: String, _ body: () throws -> Double) {
        do {
            report.add(kind: kind, placement: placement, ns: try body())
        } catch {
            report.failures.append("\(kind), \(placement): \(error)")
        }
    }

    /// Two tasks pass a token back and forth through two `AsyncSemaphore`s; with one loop
    /// both tasks run on its thread, with two each has its own (pinned as `placement` says).
    private func loopHandoff(loops count: Int, placement: String) throws -> Double {
        let group = try EventLoopGroup(numberOfLoops: count)
        defer { try? group.syncShutdownGracefully() }
        let loops = group.loops
        for (i, loop) in loops.enumerated() {
            let cpu = placement == "same" ? 0 : i
            guard try loop.submit({ pinCurrentThread(to: cpu) }).wait() else {
                throw BenchFailure("cannot pin a loop thread to CPU \(cpu)")
            }
        }
        let n = roundTrips
        let ping = AsyncSemaphore(value: 0)
        let pong = AsyncSemaphore(value: 0)
        let start = monotonicSeconds()
        try loops[0].makeFutureWithTask {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask(executorPreference: loops[0]) {
                    for _ in 0..<n {
                        ping.release()
                        try await pong.acquire()
                    }
                }
                tasks.addTask(executorPreference: loops[count - 1]) {
                    for _ in 0..<n {
                        try await ping.acquire()
                        pong.release()
                    }
                }
                try await tasks.waitForAll()
            }
        }.wait()
        return (monotonicSeconds() - start) * 1e9 / Double(2 * n)
    }
}

/// What bench-switch prints: one JSON line per kind and placement.
private struct SwitchLine: Decodable {
    var kind: String
    var placement: String
    var nsPerHandoff: Double

    enum CodingKeys: String, CodingKey {
        case kind, placement
        case nsPerHandoff = "ns_per_handoff"
    }
}

/// Pins the calling thread to one CPU. glibc declares `sched_setaffinity` only under
/// `_GNU_SOURCE`, which Swift's Glibc module does not see: look it up at run time.
func pinCurrentThread(to cpu: Int) -> Bool {
    typealias SetAffinity = @convention(c) (pid_t, Int, UnsafeRawPointer) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_setaffinity") else { return false }
    let setAffinity = unsafeBitCast(symbol, to: SetAffinity.self)
    var set = cpu_set_t()
    withUnsafeMutableBytes(of: &set) { raw in
        let words = raw.bindMemory(to: UInt.self)
        words[cpu / UInt.bitWidth] |= 1 << UInt(cpu % UInt.bitWidth)
    }
    return withUnsafeBytes(of: &set) { setAffinity(0, MemoryLayout<cpu_set_t>.size, $0.baseAddress!) } == 0
}

struct SwitchRow: Codable {
    var kind: String
    var placement: String
    /// One value per round.
    var roundNs: [Double] = []
    /// Median over the rounds.
    var nsPerHandoff: Double?
    /// This row's ns ÷ RingLoop's one-loop hand-off (>1: RingLoop's is cheaper).
    var ratio: Double?
}

struct SwitchReport: SectionReport {
    let id = SectionID.switch
    var roundTrips: Int
    var rows: [SwitchRow] = []
    var failures: [String] = []

    enum CodingKeys: String, CodingKey { case id, roundTrips, rows, failures }

    mutating func add(kind: String, placement: String, ns: Double) {
        if let i = rows.firstIndex(where: { $0.kind == kind && $0.placement == placement }) {
            rows[i].roundNs.append(ns)
        } else {
            rows.append(SwitchRow(kind: kind, placement: placement, roundNs: [ns]))
        }
        for i in rows.indices {
            let sorted = rows[i].roundNs.sorted()
            rows[i].nsPerHandoff = sorted[sorted.count / 2]
        }
        let reference = rows.first { $0.kind == "tasks, one loop" && $0.placement == "same" }?.nsPerHandoff
        for i in rows.indices {
            if let reference, let ns = rows[i].nsPerHandoff, reference > 0 { rows[i].ratio = ns / reference }
        }
    }

    func table() -> String {
        var table = TextTable(headers: ["hand-off between", "placement", "ns/hand-off", "x one loop"], leftAligned: [0, 1])
        for placement in ["same", "across"] {
            for row in rows where row.placement == placement {
                table.add([row.kind, placement == "same" ? "one core" : "two cores",
                           fixed(row.nsPerHandoff, 0), fixed(row.ratio, 1)])
            }
        }
        return """
            switch: one hand-off = half a round trip of a token passed back and forth \(grouped(Double(roundTrips))) times; \
            median over rounds; "x one loop" = this ÷ two tasks on one loop
            \(table.render())
            """
    }

    func chart(machine: MachineDescription) -> SVGFigure? {
        let kinds = rows.reduce(into: [String]()) { kinds, row in if !kinds.contains(row.kind) { kinds.append(row.kind) } }
        guard !kinds.isEmpty else { return nil }
        let series = [("same", "one core", "#1f77b4"), ("across", "two cores", "#d62728")].map { placement, name, color in
            ChartSeries(name: name, color: color, values: kinds.map { kind in
                rows.first { $0.kind == kind && $0.placement == placement }?.nsPerHandoff
            })
        }
        let chart = LineChart(
            title: "one hand-off (ns, log scale)", xLabel: "between", categories: kinds, series: series,
            logY: true, yFormat: { fixed($0, 0) })
        var body = text(16, 22, "Hand-off cost: tasks on a loop, threads, processes", size: 16, anchor: "start", weight: "bold")
        body += text(16, 40, machine.summary, size: 11, anchor: "start")
        body += legend(x: 16, y: 58, series.map { ($0.name, $0.color) })
        body += chart.render(x: 0, y: 70, width: 900, height: 320)
        return SVGFigure(width: 900, height: 400, body: body)
    }
}
