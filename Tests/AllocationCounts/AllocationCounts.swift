import CAllocCounter
import Dispatch
import RingLoop
#if canImport(Glibc)
import Glibc
#endif

/// Why the run cannot count.
enum AllocationCountError: Error, CustomStringConvertible {
    case system(String, Int32)
    case broken(String)

    var description: String {
        switch self {
        case let .system(call, code): return "\(call) failed: \(String(cString: strerror(code)))"
        case let .broken(text): return text
        }
    }
}

/// ringloop-alloc-counter: heap allocations per operation at steady state,
/// checked against thresholds (the way SwiftNIO's allocation tests work).
///
/// Each workload runs `iterations` operations once to warm up (buffers grown,
/// caches filled), then again with the counting allocator reset; the figure
/// is the second run's allocations divided by `iterations`, rounded to two
/// decimals. The process runs one event loop; every thread's allocations
/// count, so a figure can only be too high, never hide one.
///
/// Usage: ringloop-alloc-counter [THRESHOLDS-FILE] [--iterations N]
enum AllocationCounts {
    static func main() -> Never {
        var arguments = Array(CommandLine.arguments.dropFirst())
        var iterations = 10_000
        if let index = arguments.firstIndex(of: "--iterations"), index + 1 < arguments.count, let n = Int(arguments[index + 1]), n > 0 {
            iterations = n
            arguments.removeSubrange(index...(index + 1))
        }
        guard ringloop_allocation_counting_active() != 0 else {
            print("ringloop-alloc-counter: built with a sanitizer, which owns malloc; nothing counted")
            exit(0)
        }
        do {
            let thresholds = try arguments.first.map(Thresholds.load) ?? Thresholds(limits: [:])
            let results = try Workloads.measureAll(iterations: iterations)
            exit(report(results, thresholds: thresholds, iterations: iterations) ? 0 : 1)
        } catch {
            print("ringloop-alloc-counter: \(error)")
            exit(1)
        }
    }

    /// Prints the table; returns whether every figure is within its threshold.
    private static func report(_ results: [(String, Int)], thresholds: Thresholds, iterations: Int) -> Bool {
        var ok = true
        func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
        print(pad("workload", 22) + pad("allocations", 13) + pad("per op", 9) + pad("threshold", 11) + "result")
        for (name, total) in results {
            let perOperation = (Double(total) / Double(iterations) * 100).rounded() / 100
            let limit = thresholds.limits[name]
            let verdict: String
            if let limit {
                verdict = perOperation <= limit ? "ok" : "FAIL (more allocations than allowed)"
                if perOperation > limit { ok = false }
            } else {
                verdict = thresholds.limits.isEmpty ? "-" : "FAIL (no threshold)"
                if !thresholds.limits.isEmpty { ok = false }
            }
            print(pad(name, 22) + pad("\(total)", 13) + pad("\(perOperation)", 9) + pad(limit.map { "\($0)" } ?? "-", 11) + verdict)
        }
        for name in thresholds.limits.keys.sorted() where !results.contains(where: { $0.0 == name }) {
            print(pad(name, 22) + "not measured: FAIL")
            ok = false
        }
        print("\(iterations) operations per workload; \(ok ? "all within thresholds" : "ALLOCATION COUNTS ROSE")")
        return ok
    }
}

/// name → the most allocations per operation allowed.
struct Thresholds {
    var limits: [String: Double]

    static func load(_ path: String) throws -> Thresholds {
        guard let file = fopen(path, "r") else { throw AllocationCountError.system("open \(path)", errno) }
        defer { fclose(file) }
        var limits: [String: Double] = [:]
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) >= 0, let line {
            let text = String(cString: line)
            let fields = text.prefix { $0 != "#" }.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            guard let name = fields.first else { continue }
            guard fields.count == 2, let limit = Double(fields[1]) else {
                throw AllocationCountError.broken("bad line in \(path): \(text)")
            }
            limits[String(name)] = limit
        }
        return Thresholds(limits: limits)
    }
}
