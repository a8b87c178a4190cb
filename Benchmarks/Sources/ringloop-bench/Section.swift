import ArgumentParser

/// The benchmark sections ringloop-bench knows. Each one measures RingLoop against peers
/// run in the same invocation, interleaved.
enum SectionID: String, CaseIterable, Codable, Sendable, ExpressibleByArgument {
    /// TCP echo servers (processes) against the C load generator.
    case echo
    /// Copying one large file: RingLoop's file-copy, a blocking read/write loop and cp.
    case filecopy
    /// CPU offload: ThreadPool against a thread per job and Dispatch (in process).
    case offload
    /// Sync primitives under tasks against pthread equivalents under threads (in process).
    case sync
    /// One hand-off between two tasks on a loop, two threads, two processes (bench-switch).
    case `switch`
    /// ProcessPool against ThreadPool and a process per job; Subprocess spawn-and-wait against
    /// Foundation's Process and swift-subprocess; a 1 GiB pipe read by ByteStream against cat.
    case process
    /// A million timers against `DispatchQueue.asyncAfter`; lock and semaphore hand-offs
    /// between two tasks on one loop against `Mutex` + continuations (ringloop-micro).
    case micro
}

/// One part of the benchmark: runs its points and returns a report.
protocol BenchmarkSection {
    var id: SectionID { get }
    /// Runs every point; progress goes to stderr. Never throws: a failed point is recorded
    /// in the report so that the rest still run.
    func run() -> any SectionReport
}

/// What a section hands back: figures for the JSON file, a table for the terminal, and
/// optionally a figure for the SVG chart.
protocol SectionReport: Encodable {
    var id: SectionID { get }
    /// One line per failed point; empty when every point succeeded.
    var failures: [String] { get }
    func table() -> String
    func chart(machine: MachineDescription) -> SVGFigure?
}

/// Lets reports of different types sit in one encoded array.
struct AnySectionReport: Encodable {
    let report: any SectionReport
    func encode(to encoder: any Encoder) throws {
        try report.encode(to: encoder)
    }
}

/// A server under test: a name for the tables and the command that starts it. The command
/// is run with `--port 0` appended and must print `PORT <n>` as its first stdout line.
struct ServerSpec: Codable, Sendable {
    var name: String
    var command: [String]
}
