import Foundation

/// Timers and sync hand-offs, from the root package's `ringloop-micro` (built next to this
/// executable by `scripts/demo`): a million timers scheduled and fired against
/// `DispatchQueue.asyncAfter`, and a lock / semaphore hand-off between two tasks on one loop
/// against the same primitive written with `Mutex` + continuations. `ringloop-micro --json`
/// runs each group's cases interleaved, round by round, and prints the best round of each;
/// the first case of a group is RingLoop's.
struct RuntimeMicroSection: BenchmarkSection {
    let id = SectionID.micro
    var microPath: String
    var quick: Bool
    /// ringloop-micro group filters (a group runs when its name contains one).
    static let groups = ["timer schedule+fire", "1M timers", "sync lock hand-off (1 loop)", "sync semaphore ping-pong (1 loop)"]

    func run() -> any SectionReport {
        var report = RuntimeMicroReport()
        log("micro: ringloop-micro \(Self.groups.joined(separator: ", "))")
        do {
            let child = try ChildProcess(
                name: "ringloop-micro", argv: [microPath, "--json"] + (quick ? ["--quick"] : []) + Self.groups)
            _ = pump(child.readers, until: monotonicSeconds() + 900) { child.poll() }
            if !child.wait(until: monotonicSeconds() + 10) {
                child.stop()
                report.failures.append("ringloop-micro did not finish")
                return report
            }
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            while let line = child.stdout.takeLine() {
                guard line.hasPrefix("{"), let data = line.data(using: .utf8) else { continue }
                do {
                    report.add(try decoder.decode(RuntimeMicroRow.self, from: data))
                } catch {
                    report.failures.append("ringloop-micro printed a line this harness cannot read: \(line)")
                }
            }
            if child.exitStatus != 0 {
                report.failures.append("ringloop-micro exited with status \(child.exitStatus ?? -1): "
                    + child.stdout.text.suffix(400) + child.stderr.text.suffix(400))
            }
            if report.rows.isEmpty, report.failures.isEmpty { report.failures.append("ringloop-micro reported no case") }
        } catch {
            report.failures.append("ringloop-micro: \(error)")
        }
        return report
    }
}

/// One case as `ringloop-micro --json` prints it, plus the ratios worked out here.
struct RuntimeMicroRow: Codable {
    var group: String
    var name: String
    var operations: Int
    var rounds: Int
    var release: Bool
    var nsPerOp: Double
    var cpuNsPerOp: Double
    /// This case's time ÷ RingLoop's, the first case of the group (>1: RingLoop faster).
    var ringloopOverThis: Double?
    /// This case's CPU time ÷ RingLoop's (>1: RingLoop cheaper).
    var cpuRingloopOverThis: Double?
}

struct RuntimeMicroReport: SectionReport {
    let id = SectionID.micro
    var rows: [RuntimeMicroRow] = []
    var failures: [String] = []

    enum CodingKeys: String, CodingKey { case id, rows, failures }

    mutating func add(_ row: RuntimeMicroRow) {
        var row = row
        let reference = rows.first { $0.group == row.group } ?? row
        row.ringloopOverThis = reference.nsPerOp > 0 ? row.nsPerOp / reference.nsPerOp : nil
        row.cpuRingloopOverThis = reference.cpuNsPerOp > 0 ? row.cpuNsPerOp / reference.cpuNsPerOp : nil
        rows.append(row)
    }

    func table() -> String {
        var table = TextTable(
            headers: ["group", "implementation", "ns/op", "CPU ns/op", "total CPU s", "ringloop/x", "CPU ringloop/x"],
            leftAligned: [0, 1])
        var previous: String?
        for (i, row) in rows.enumerated() {
            if let previous, previous != row.group { table.separator() }
            previous = row.group
            let first = i == 0 || rows[i - 1].group != row.group
            table.add([first ? row.group : "", row.name + (first ? " *" : ""), fixed(row.nsPerOp, 0),
                       fixed(row.cpuNsPerOp, 0), fixed(row.cpuNsPerOp * Double(row.operations) / 1e9, 2),
                       fixed(row.ringloopOverThis, 2), fixed(row.cpuRingloopOverThis, 2)])
        }
        let release = rows.allSatisfy(\.release) ? "" : "\nnote: ringloop-micro is a debug build: build it with -c release"
        return """
            micro: from ringloop-micro --json; best of \(rows.first?.rounds ?? 0) interleaved rounds; * = RingLoop; \
            ringloop/x = this one's time ÷ RingLoop's (>1: RingLoop faster); CPU = the whole process, every thread\(release)
            \(table.render())
            """
    }

    func chart(machine: MachineDescription) -> SVGFigure? { nil }
}
