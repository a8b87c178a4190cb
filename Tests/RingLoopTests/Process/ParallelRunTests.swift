import Foundation
import SystemPackage
import Testing
@testable import RingLoop

/// The parallel-run example, run as a program (built next to this test binary).
@Suite struct ParallelRunTests {
    static var executable: FilePath {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return FilePath(me).removingLastComponent().appending("parallel-run")
    }

    @Test(.timeLimit(.minutes(1)))
    func runsOneJobPerLineAndReportsEach() async throws {
        try await withLoop { loop in
            let result = try await Subprocess.run(
                .path(Self.executable), arguments: ["-j", "2", "sh", "-c", "echo \"got $0\"; echo oops >&2; exit $0"],
                input: Array("0\n3\n0\n".utf8), on: loop
            )
            #expect(result.terminationStatus == .exited(1), "one job failed")
            let lines = Set(result.standardOutputText.split(separator: "\n").map(String.init))
            #expect(lines == [
                "[1] got 0", "[1 stderr] oops", "[1] exited(0)",
                "[2] got 3", "[2 stderr] oops", "[2] exited(3)",
                "[3] got 0", "[3 stderr] oops", "[3] exited(0)",
            ])
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func oneAtATimeKeepsTheInputOrder() async throws {
        try await withLoop { loop in
            let result = try await Subprocess.run(.path(Self.executable), arguments: ["-j", "1", "echo"],
                                                  input: Array("a\nb\nc\n".utf8), on: loop)
            #expect(result.terminationStatus == .exited(0))
            #expect(result.standardOutputText == "[1] a\n[1] exited(0)\n[2] b\n[2] exited(0)\n[3] c\n[3] exited(0)\n")
        }
    }

    /// SIGINT sent to parallel-run's process (not its group): it blocks the
    /// signal in every thread first thing, so the signal reaches its loop's
    /// signalfd; it then terminates its children, reports them, and exits
    /// 130 with none left.
    @Test(.timeLimit(.minutes(1)))
    func interruptTerminatesTheRunningJobs() async throws {
        try await withLoop { loop in
            let run = try Subprocess.spawn(.path(Self.executable), arguments: ["-j", "2", "sh", "-c", "echo pid $$; exec sleep 30"],
                                           input: .pipe, output: .pipe, on: loop)
            // Three jobs, two at a time; the input stays open.
            try await run.standardInput!.write(Array("1\n2\n3\n".utf8))
            var lines = run.standardOutput!.lines.makeAsyncIterator()
            var children: [pid_t] = []
            while children.count < 2, let line = try await lines.next() {
                if let pid = line.split(separator: " ").last.flatMap({ pid_t($0) }), line.contains("pid") { children.append(pid) }
            }
            #expect(children.count == 2)
            #expect(run.send(signal: .interrupt))
            var rest: [String] = []
            while let line = try await lines.next() { rest.append(line) }
            #expect(try await run.wait() == .exited(130))
            #expect(rest.first == "parallel-run: SIGINT: stopping")
            #expect(Set(rest.dropFirst()) == ["[1] signaled(SIGTERM)", "[2] signaled(SIGTERM)"], "job 3 never started")
            for pid in children {
                #expect(kill(pid, 0) == -1 && errno == ESRCH, "child \(pid) is gone (reaped, not a zombie)")
            }
            run.standardInput!.close()
            run.standardOutput!.close()
        }
    }
}
