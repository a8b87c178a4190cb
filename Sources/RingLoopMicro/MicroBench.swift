import Foundation
import RingLoop

/// One measured case: `run(n)` performs `n` operations and returns when they
/// are all done. Cases sharing a `group` are run interleaved, round by round,
/// so machine noise hits all of them alike; the first case of a group is the
/// reference for the ratio column.
struct BenchCase: Sendable {
    var group: String
    var name: String
    var operations: Int
    var run: @Sendable (Int) async throws -> Void
}

enum MicroBench {
    static func main(arguments: [String]) async {
        // Every argument that is not an option is a filter: a group runs when
        // its name contains any of them (all groups without one).
        let filters = arguments.dropFirst().filter { !$0.hasPrefix("-") }
        let rounds = arguments.contains("--quick") ? 3 : 7
        // --json: one JSON object per case on stdout instead of the table
        // (ringloop-bench's micro section reads these).
        let json = arguments.contains("--json")
        // --case=TEXT keeps only the cases whose name contains TEXT (to
        // profile one case of a group on its own).
        let caseFilter = arguments.first { $0.hasPrefix("--case=") }.map { String($0.dropFirst("--case=".count)) }
        let cases = Registry.all().filter { c in
            (filters.isEmpty || filters.contains { c.group.contains($0) })
                && (caseFilter.map { c.name.contains($0) } ?? true)
        }
        var groups: [String: [BenchCase]] = [:]
        var order: [String] = []
        for c in cases {
            if groups[c.group] == nil { order.append(c.group) }
            groups[c.group, default: []].append(c)
        }
        if !json {
            print("RingLoop micro-benchmarks (release build: \(isRelease)); best of \(rounds) rounds; ratio = first case / this case time")
            print("cpu ns/op: CPU time of the whole process (every thread) per operation, best round; steadier than wall time on a busy machine")
            print(pad("group", 26) + pad("case", 40) + lpad("ns/op", 12) + lpad("ops/s", 14) + lpad("ratio", 8) + lpad("cpu ns/op", 11) + lpad("cpu ratio", 10))
        }
        for group in order {
            let members = groups[group]!
            var best = [Double](repeating: .infinity, count: members.count)
            var bestCPU = [Double](repeating: .infinity, count: members.count)
            for _ in 0..<rounds {
                for (i, c) in members.enumerated() {
                    let cpuStart = processCPUSeconds()
                    let start = Deadline.now()
                    do { try await c.run(c.operations) } catch {
                        print("\(group)/\(c.name) failed: \(error)")
                        exit(1)
                    }
                    let seconds = Double((Deadline.now() - start).nanoseconds) / 1e9
                    best[i] = min(best[i], seconds / Double(c.operations))
                    bestCPU[i] = min(bestCPU[i], (processCPUSeconds() - cpuStart) / Double(c.operations))
                }
            }
            for (i, c) in members.enumerated() {
                let ns = best[i] * 1e9
                if json {
                    print(jsonLine(group: group, name: c.name, operations: c.operations, rounds: rounds,
                                   nsPerOp: ns, cpuNsPerOp: bestCPU[i] * 1e9))
                    continue
                }
                print(pad(group, 26) + pad(c.name, 40) + lpad(String(format: "%.1f", ns), 12)
                      + lpad(String(format: "%.0f", 1 / best[i]), 14) + lpad(String(format: "%.2f", best[0] / best[i]), 8)
                      + lpad(String(format: "%.1f", bestCPU[i] * 1e9), 11) + lpad(String(format: "%.2f", bestCPU[0] / bestCPU[i]), 10))
            }
        }
    }

    /// One case's result as `--json` prints it (ringloop-bench's micro
    /// section decodes the same fields).
    struct Row: Encodable {
        var group: String
        var name: String
        var operations: Int
        var rounds: Int
        var release: Bool
        var nsPerOp: Double
        var cpuNsPerOp: Double
    }

    /// One case as a JSON object on one line.
    static func jsonLine(group: String, name: String, operations: Int, rounds: Int, nsPerOp: Double, cpuNsPerOp: Double) -> String {
        let row = Row(group: group, name: name, operations: operations, rounds: rounds, release: isRelease,
                      nsPerOp: nsPerOp, cpuNsPerOp: cpuNsPerOp)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(row), let line = String(data: data, encoding: .utf8) else { return "{}" }
        return line
    }

    static var isRelease: Bool {
        #if DEBUG
        false
        #else
        true
        #endif
    }

    /// User plus system CPU time of the process so far.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
    static func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s }
}

extension Duration {
    var nanoseconds: Int64 {
        let (s, a) = components
        return s * 1_000_000_000 + a / 1_000_000_000
    }
}
