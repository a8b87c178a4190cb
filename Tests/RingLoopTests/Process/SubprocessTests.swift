import Foundation
import SystemPackage
import Testing
@testable import RingLoop

@Suite struct SubprocessTests {
    @Test(.timeLimit(.minutes(1)))
    func runCollectsOutputAndExitCode() async throws {
        try await withLoop { loop in
            let result = try await Subprocess.run(.name("sh"), arguments: ["-c", "echo out; echo err >&2; exit 3"], on: loop)
            #expect(result.terminationStatus == .exited(3))
            #expect(result.standardOutputText == "out\n")
            #expect(result.standardErrorText == "err\n")
        }
    }

    /// Both ways of watching the exit: `IORING_OP_WAITID`, and a poll on the pidfd.
    @Test(.timeLimit(.minutes(1)), arguments: [true, false])
    func childKilledBySignalReportsIt(usingWaitid: Bool) async throws {
        try await withLoop { loop in
            // IORING_OP_WAITID needs Linux 6.7; before that only the pidfd path exists.
            if usingWaitid && !ProcessMonitor.kernelHasWaitid { return }
            let child = try Subprocess.spawn(.name("sleep"), arguments: ["30"], environment: .inherit, workingDirectory: nil,
                                             stdio: [.discarded, .discarded, .discarded], usingWaitid: usingWaitid, on: loop)
            #expect(child.send(signal: .terminate))
            #expect(try await child.wait() == .signaled(.terminate))
            #expect(child.terminationStatus == .signaled(.terminate))
            #expect(!child.send(signal: .kill), "a reaped child is not signalled")
            #expect(!isUnreaped(child.pid))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func droppedSubprocessLeavesNoZombie() async throws {
        try await withLoop { loop in
            var pid: pid_t = 0
            do {
                let child = try Subprocess.spawn(.name("true"), on: loop)
                pid = child.pid
            }
            // Nobody waits: the loop reaps it anyway (a zombie would stay
            // waitable).
            #expect(await eventually { !isUnreaped(pid) })
            #expect(try await inFlight(loop) == 0)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func cancellingWaitKillsTheChild() async throws {
        try await withLoop { loop in
            let child = try Subprocess.spawn(.name("sleep"), arguments: ["30"], on: loop)
            let waiter = Task { try await child.wait() }
            #expect(try await eventually { try await loop.submit { child.monitor.waiterCount }.get() == 1 })
            waiter.cancel()
            await #expect(throws: CancellationError.self) { try await waiter.value }
            #expect(try await child.wait() == .signaled(.kill))
            #expect(!isUnreaped(child.pid))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func cancellingWaitCanLeaveTheChildRunning() async throws {
        try await withLoop { loop in
            let child = try Subprocess.spawn(.name("sleep"), arguments: ["30"], on: loop)
            let waiter = Task { try await child.wait(killOnCancel: false) }
            #expect(try await eventually { try await loop.submit { child.monitor.waiterCount }.get() == 1 })
            waiter.cancel()
            await #expect(throws: CancellationError.self) { try await waiter.value }
            #expect(child.terminationStatus == nil)
            #expect(try await child.terminate(grace: .seconds(5)) == .signaled(.terminate))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func popenWaitWithATimeoutRaisesAndLeavesTheChildRunning() async throws {
        try await withLoop { loop in
            let child = try Subprocess.spawn(.name("sleep"), arguments: ["30"], on: loop)
            await #expect(throws: RingLoopError.timedOut(operation: "wait")) {
                _ = try await child.wait(timeout: .milliseconds(50))
            }
            #expect(child.terminationStatus == nil, "Python's TimeoutExpired leaves the child running")
            #expect(try await loop.submit { child.monitor.waiterCount }.get() == 0, "the timed-out wait left")
            #expect(try await loop.submit { loop.pendingTimerCount }.get() == 0)
            #expect(try await child.terminate(grace: .seconds(5)) == .signaled(.terminate))
            #expect(try await child.wait(deadline: .now() + .seconds(10)) == .signaled(.terminate))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func popenWaitFutureWithATimeoutFailsAndLeavesTheChildRunning() async throws {
        try await withLoop { loop in
            let child = try Subprocess.spawn(.name("sleep"), arguments: ["30"], on: loop)
            let timedOut: Future<TerminationStatus> = child.wait(timeout: .milliseconds(50))
            await #expect(throws: RingLoopError.timedOut(operation: "wait")) { _ = try await value(of: timedOut) }
            #expect(child.terminationStatus == nil, "Python's TimeoutExpired leaves the child running")
            #expect(try await loop.submit { child.monitor.waiterCount }.get() == 0, "the timed-out wait left")
            #expect(try await loop.submit { loop.pendingTimerCount }.get() == 0)
            let waiting: Future<TerminationStatus> = child.wait()
            let terminated: Future<TerminationStatus> = child.terminate(grace: .seconds(5))
            #expect(try await value(of: terminated) == .signaled(.terminate))
            #expect(try await value(of: waiting) == .signaled(.terminate))
            let after: Future<TerminationStatus> = child.wait(deadline: .now() + .seconds(10))
            #expect(try await value(of: after) == .signaled(.terminate))
            #expect(try await loop.submit { loop.pendingTimerCount }.get() == 0)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func subprocessRunFutureCollectsOutputLikeSubprocessRun() async throws {
        try await withLoop { loop in
            let run: Future<Subprocess.ExecutionResult> = Subprocess.run(
                .name("cat"), input: Array("through cat".utf8), on: loop)
            let result = try await value(of: run)
            #expect(result.terminationStatus == .exited(0))
            #expect(result.standardOutputText == "through cat")
            #expect(!isUnreaped(result.processIdentifier))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func terminateKillsAChildThatIgnoresSigterm() async throws {
        try await withLoop { loop in
            // `exec` keeps the ignored disposition: the sleep itself ignores SIGTERM.
            let child = try Subprocess.spawn(.name("sh"), arguments: ["-c", "trap '' TERM; echo ready; exec sleep 30"],
                                             output: .pipe, on: loop)
            var lines = child.standardOutput!.lines.makeAsyncIterator()
            #expect(try await lines.next() == "ready")
            #expect(try await child.terminate(grace: .milliseconds(100)) == .signaled(.kill))
            child.standardOutput!.close()
            #expect(try await loop.submit { loop.pendingTimerCount }.get() == 0)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func childHasOnlyStandardDescriptors() async throws {
        try await withLoop { loop in
            // A descriptor without O_CLOEXEC in the parent is still not inherited.
            let leaky = open("/dev/null", O_RDONLY)
            defer { close(leaky) }
            #expect(leaky > 2)
            // ls lists the fds of its own process: 0, 1, 2 and the one it
            // opened to read the directory (3, the lowest free number).
            let result = try await Subprocess.run(.path("/bin/ls"), arguments: ["/proc/self/fd"], on: loop)
            #expect(result.terminationStatus == .exited(0))
            #expect(result.standardOutputText.split(separator: "\n") == ["0", "1", "2", "3"])
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func environmentAndWorkingDirectoryAreApplied() async throws {
        try await withLoop { loop in
            let result = try await Subprocess.run(
                .name("sh"), arguments: ["-c", "echo \"$RINGLOOP_TEST_VALUE\"; pwd; echo \"${HOME-unset}\""],
                environment: .inherit.updating(["RINGLOOP_TEST_VALUE": "forty two", "HOME": nil]),
                workingDirectory: "/tmp", on: loop
            )
            #expect(result.standardOutputText == "forty two\n/tmp\nunset\n")
            let custom = try await Subprocess.run(.path("/usr/bin/env"), environment: .custom(["ONLY": "this"]), on: loop)
            #expect(custom.standardOutputText == "ONLY=this\n")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func standardInputPipeRoundTripsThroughCat() async throws {
        try await withLoop { loop in
            let child = try Subprocess.spawn(.name("cat"), input: .pipe, output: .pipe, on: loop)
            var lines = child.standardOutput!.lines.makeAsyncIterator()
            try await child.standardInput!.write(Array("first\n".utf8))
            #expect(try await lines.next() == "first", "cat's output streams while its input is open")
            try await child.standardInput!.write(Array("second\n".utf8))
            #expect(try await lines.next() == "second")
            child.standardInput!.close()
            #expect(try await lines.next() == nil)
            #expect(try await child.wait() == .exited(0))
            child.standardOutput!.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func runFeedsInputAndEnforcesTheOutputLimit() async throws {
        try await withLoop { loop in
            let echoed = try await Subprocess.run(.name("cat"), input: Array("abc".utf8), on: loop)
            #expect(echoed.standardOutput == Array("abc".utf8))
            await #expect(throws: SubprocessError.outputLimitExceeded(stream: "standardOutput", limit: 1000)) {
                try await Subprocess.run(.name("yes"), outputLimit: 1000, on: loop)
            }
            #expect(try await eventually { try await inFlight(loop) == 0 }, "the child was killed and reaped")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func spawnErrorsNameThePath() async throws {
        try await withLoop { loop in
            #expect(throws: SubprocessError.executableNotFound("ringloop-no-such-command")) {
                try Subprocess.spawn(.name("ringloop-no-such-command"), on: loop)
            }
            #expect(throws: SubprocessError.executableNotFound("/nonexistent/tool")) {
                try Subprocess.spawn(.path("/nonexistent/tool"), on: loop)
            }
            let script = FilePath(NSTemporaryDirectory()).appending("ringloop-not-executable-\(getpid())")
            _ = FileManager.default.createFile(atPath: script.string, contents: Data("#!/bin/sh\n".utf8),
                                           attributes: [.posixPermissions: 0o644])
            defer { unlink(script.string) }
            #expect(throws: SubprocessError.permissionDenied(script)) {
                try Subprocess.spawn(.path(script), on: loop)
            }
            #expect(throws: SubprocessError.failedToChangeWorkingDirectory("/nonexistent/dir", .noSuchFileOrDirectory)) {
                try Subprocess.spawn(.name("true"), workingDirectory: "/nonexistent/dir", on: loop)
            }
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func shuttingTheLoopDownKillsAndReapsItsChildren() async throws {
        let loop = try EventLoop.spawn()
        let child = try Subprocess.spawn(.name("sleep"), arguments: ["30"], on: loop)
        await loop.shutdownGracefully()
        #expect(child.terminationStatus == .signaled(.kill))
        #expect(!isUnreaped(child.pid))
    }
}

/// Whether `pid` is a child of this process that has not been reaped
/// (running or a zombie). WNOWAIT: looking does not reap it.
func isUnreaped(_ pid: pid_t) -> Bool {
    var info = siginfo_t()
    return waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0
}
