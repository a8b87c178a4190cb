#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A measurement that did not hold: a count that does not add up, an item delivered twice.
/// Fails the case loudly; the rest of the section still runs.
struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Times one run of a case: from its start until `stop()` (or until the body returns), so
/// that checking the result afterwards is not counted.
final class Stopwatch {
    private let start = monotonicSeconds()
    private let cpuStart = processCPUMicroseconds()
    private(set) var seconds: Double?
    private(set) var cpuMicroseconds: Double?

    /// Ends the measured part; later calls change nothing.
    func stop() {
        guard seconds == nil else { return }
        seconds = monotonicSeconds() - start
        cpuMicroseconds = processCPUMicroseconds() - cpuStart
    }
}

/// One in-process benchmark case: `operations` operations of one implementation.
///
/// `body(n, stopwatch)` runs `n` operations on the calling (main) thread, or hands them to
/// loops and threads and waits; it calls `stopwatch.stop()` once the work is done, then
/// checks what it measured and throws `BenchFailure` when the result is wrong. It returns
/// per-operation latencies in microseconds for latency cases, nil for throughput cases.
struct MicroCase {
    /// Cases in one group measure the same thing; ratios are taken within a group.
    var group: String
    var name: String
    /// The RingLoop side of the group: the reference of its ratios.
    var isRingLoop: Bool
    var operations: Int
    var body: (Int, Stopwatch) throws -> [Double]?
}

/// One case's figures over its rounds.
struct MicroRun: Codable {
    var group: String
    var name: String
    var ringloop: Bool
    var operations: Int
    var status = "ok"
    /// Operations per second, one value per round.
    var roundOpsPerSec: [Double] = []
    /// Median over the rounds.
    var opsPerSec: Double?
    /// Wall time per operation at the median rate.
    var usPerOp: Double?
    /// Process CPU time (user + system, every thread) per operation, median over the rounds:
    /// what the work cost the machine, beyond how long it took.
    var cpuUsPerOp: Double?
    /// Latency percentiles over every sample of every round (latency cases only).
    var p50Us: Double?
    var p99Us: Double?
    var p999Us: Double?
    /// RingLoop's ops/s in this group ÷ this case's (>1: RingLoop faster).
    var ratio: Double?

    var ok: Bool { status == "ok" }
}

/// Runs groups of in-process cases: a warm-up pass, then `rounds` rounds in which every
/// case of a group runs once, in an order rotated from round to round, so drift in the
/// machine's speed hits every implementation alike.
struct MicroSection: BenchmarkSection {
    let id: SectionID
    var title: String
    var notes: [String]
    var rounds: Int
    var cases: [MicroCase]
    /// Releases what the cases share (loops, pools) once every round has run.
    var teardown: () -> Void = {}

    func run() -> any SectionReport {
        defer { teardown() }
        var runs = cases.map {
            MicroRun(group: $0.group, name: $0.name, ringloop: $0.isRingLoop, operations: $0.operations)
        }
        var cpuPerOp: [[Double]] = Array(repeating: [], count: cases.count)
        var samples: [[Double]] = Array(repeating: [], count: cases.count)
        var groups: [String] = []
        for c in cases where !groups.contains(c.group) { groups.append(c.group) }

        for group in groups {
            let members = cases.indices.filter { cases[$0].group == group }
            log("\(id.rawValue): \(group)")
            // Warm-up: a tenth of the work, unmeasured (caches, lazily created threads).
            for i in members {
                do {
                    _ = try cases[i].body(max(1, cases[i].operations / 10), Stopwatch())
                } catch {
                    runs[i].status = "failed: \(error)"
                    log("!!! \(cases[i].name): \(error)")
                }
            }
            for round in 0..<rounds {
                for k in members.indices {
                    let i = members[(round + k) % members.count]
                    guard runs[i].ok else { continue }
                    let c = cases[i]
                    let stopwatch = Stopwatch()
                    do {
                        let latencies = try c.body(c.operations, stopwatch)
                        stopwatch.stop()
                        let seconds = stopwatch.seconds ?? .nan
                        let cpu = stopwatch.cpuMicroseconds ?? .nan
                        runs[i].roundOpsPerSec.append(Double(c.operations) / seconds)
                        cpuPerOp[i].append(cpu / Double(c.operations))
                        if let latencies { samples[i] += latencies }
                    } catch {
                        runs[i].status = "failed: \(error)"
                        log("!!! \(c.name): \(error)")
                    }
                }
            }
            for i in members where runs[i].ok {
                let rate = median(runs[i].roundOpsPerSec)
                runs[i].opsPerSec = rate
                runs[i].usPerOp = rate.map { 1e6 / $0 }
                runs[i].cpuUsPerOp = median(cpuPerOp[i])
                if !samples[i].isEmpty {
                    samples[i].sort()
                    runs[i].p50Us = percentile(samples[i], 0.50)
                    runs[i].p99Us = percentile(samples[i], 0.99)
                    runs[i].p999Us = percentile(samples[i], 0.999)
                }
                log("    \(cases[i].name): \(grouped(runs[i].opsPerSec ?? 0)) ops/s")
            }
            if let reference = members.first(where: { cases[$0].isRingLoop && runs[$0].ok }),
               let refRate = runs[reference].opsPerSec
            {
                for i in members where runs[i].ok {
                    if let rate = runs[i].opsPerSec, rate > 0 { runs[i].ratio = refRate / rate }
                }
            }
        }
        return MicroReport(id: id, title: title, notes: notes, rounds: rounds, runs: runs)
    }
}

struct MicroReport: SectionReport {
    var id: SectionID
    var title: String
    var notes: [String]
    var rounds: Int
    var runs: [MicroRun]

    var failures: [String] {
        runs.filter { !$0.ok }.map { "\(id.rawValue) \($0.group) / \($0.name): \($0.status)" }
    }

    func table() -> String {
        var t = TextTable(
            headers: ["case", "implementation", "ops/s", "µs/op", "CPU µs/op", "p50 µs", "p99 µs",
                      "p99.9 µs", "ringloop/x"],
            leftAligned: [0, 1])
        var previous: String?
        for r in runs {
            if let previous, previous != r.group { t.separator() }
            let label = previous == r.group ? "" : r.group
            previous = r.group
            let name = r.ringloop ? r.name + " *" : r.name
            if r.ok {
                t.add([label, name, grouped(r.opsPerSec ?? .nan), sig3(r.usPerOp), sig3(r.cpuUsPerOp),
                       sig3(r.p50Us), sig3(r.p99Us), sig3(r.p999Us), fixed(r.ratio, 2)])
            } else {
                t.add([label, name, "FAILED", "", "", "", "", "", ""])
            }
        }
        var header = "\(title); median of \(rounds) interleaved rounds; * = RingLoop; "
            + "ringloop/x = RingLoop ops/s ÷ this one's (>1: RingLoop faster)"
        for note in notes { header += "\nnote: " + note }
        return header + "\n" + t.render()
    }

    func chart(machine: MachineDescription) -> SVGFigure? { nil }
}

/// User + system CPU time of this process (every thread), in microseconds.
func processCPUMicroseconds() -> Double {
    var usage = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
}

func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/// The `q` quantile of sorted `values` (nearest rank).
func percentile(_ sorted: [Double], _ q: Double) -> Double? {
    guard !sorted.isEmpty else { return nil }
    let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}
