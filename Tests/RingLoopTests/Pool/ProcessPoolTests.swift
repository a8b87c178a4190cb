import Foundation
import SystemPackage
import Testing
@testable import RingLoop
@testable import RingLoopTestWorker

/// The worker executable built next to this test binary.
private let workerExecutable: Subprocess.Executable = {
    let directory = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "")
        .deletingLastPathComponent()
    return .path(FilePath(directory.appendingPathComponent("RingLoopTestWorker").path))
}()

/// Workers that abort on purpose skip the Swift runtime's crash report.
private let quietCrashes = Subprocess.Environment.inherit.updating(["SWIFT_BACKTRACE": "enable=no"])

/// The live children of this process (from /proc: any process whose parent
/// is us, zombies included).
private func childProcesses() -> Set<pid_t> {
    let me = getpid()
    var children: Set<pid_t> = []
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { continue }
        // After "(comm)": state, ppid, …
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        if fields.count > 1, pid_t(fields[1]) == me { children.insert(pid) }
    }
    return children
}

/// Runs `body` with a pool of `workers` test workers, shutting it down
/// afterwards and checking that every worker was reaped.
private func withPool(
    workers: Int = 2, queueCapacity: Int? = nil, cancelling: Bool = false,
    _ body: (ProcessPool, EventLoop) async throws -> Void
) async throws {
    try await withLoop { loop in
        let before = childProcesses()
        let pool = try ProcessPool(workerCount: workers, queueCapacity: queueCapacity, executable: workerExecutable,
                                   environment: quietCrashes, on: loop)
        do {
            try await body(pool, loop)
        } catch {
            await pool.shutdown(cancellingPending: true)
            throw error
        }
        await pool.shutdown(cancellingPending: cancelling)
        #expect(pool.workerPIDs.isEmpty)
        #expect(childProcesses().subtracting(before).isEmpty, "worker processes left after shutdown")
        #expect(try await inFlight(loop) == 0)
    }
}

@Suite struct ProcessPoolTests {
    @Test(.timeLimit(.minutes(1)))
    func resultsRoundTrip() async throws {
        try await withPool { (pool: ProcessPool, _: EventLoop) async throws in
            let sum = try await withThrowingTaskGroup(of: Int.self) { group in
                for n in 1...200 { group.addTask { try await pool.run(TestJobs.square, n) } }
                return try await group.reduce(0, +)
            }
            #expect(sum == (1...200).reduce(0) { $0 + $1 * $1 })
            let text = "héllo, wörld ✓ " + String(repeating: "x", count: 300_000)
            #expect(try await pool.run(TestJobs.echo, text) == text)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func jobErrorComesBackAsRemoteErrorWithItsMessage() async throws {
        try await withPool(workers: 1) { (pool: ProcessPool, _: EventLoop) async throws in
            let pid = try await pool.run(TestJobs.pid, 0)
            await #expect(throws: ProcessPoolError.remote(job: "fail", message: "it broke")) {
                try await pool.run(TestJobs.fail, "it broke")
            }
            // A thrown error does not cost the worker.
            #expect(try await pool.run(TestJobs.pid, 0) == pid)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func workerKilledMidJobFailsThatJobOnlyAndThePoolServesTheNextThousand() async throws {
        try await withPool(workers: 2) { (pool: ProcessPool, _: EventLoop) async throws in
            let running = Task { try await pool.run(TestJobs.sleep, 30_000) }
            #expect(await eventually { pool.busyWorkerCount == 1 })
            let busy = pool.workerPIDs
            // The idle worker answers a pid job; the other runs the sleep.
            let idle = try await pool.run(TestJobs.pid, 0)
            let sleeper = try #require(busy.first { $0 != idle })
            #expect(kill(sleeper, SIGKILL) == 0)
            await #expect(throws: ProcessPoolError.workerDied(job: "sleep", pid: sleeper, status: .signaled(.kill))) {
                try await running.value
            }
            #expect(!isUnreaped(sleeper))
            let sum = try await withThrowingTaskGroup(of: Int.self) { group in
                for n in 1...1_000 { group.addTask { try await pool.run(TestJobs.square, n % 10) } }
                return try await group.reduce(0, +)
            }
            #expect(sum == 100 * (0..<10).reduce(0) { $0 + $1 * $1 })
            #expect(!pool.workerPIDs.contains(sleeper))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func crashingJobsReportHowTheWorkerDied() async throws {
        try await withPool(workers: 1) { (pool: ProcessPool, _: EventLoop) async throws in
            let first = try await pool.run(TestJobs.pid, 0)
            await #expect(throws: ProcessPoolError.workerDied(job: "abort", pid: first, status: .signaled(Signal(rawValue: SIGABRT)))) {
                try await pool.run(TestJobs.abort, 0)
            }
            let second = try await pool.run(TestJobs.pid, 0)
            #expect(second != first)
            await #expect(throws: ProcessPoolError.workerDied(job: "exit", pid: second, status: .exited(3))) {
                try await pool.run(TestJobs.exit, 3)
            }
            #expect(try await pool.run(TestJobs.square, 7) == 49)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func jobPastItsDeadlineKillsAndReplacesItsWorker() async throws {
        try await withPool(workers: 1) { (pool: ProcessPool, _: EventLoop) async throws in
            let first = try await pool.run(TestJobs.pid, 0)
            await #expect(throws: RingLoopError.timedOut(operation: "ProcessPool.run(sleep)")) {
                try await pool.run(TestJobs.sleep, 30_000, timeout: .milliseconds(100))
            }
            #expect(!isUnreaped(first))
            let second = try await pool.run(TestJobs.pid, 0)
            #expect(second != first)
            // A job within its deadline is unaffected by having one.
            #expect(try await pool.run(TestJobs.square, 5, timeout: .seconds(30)) == 25)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func applyAsyncGetWithATimeoutCoversTheWaitForAWorkerAndStopsTheJob() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringloop-pool-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let gate = directory.appendingPathComponent("gate").path
        let marker = directory.appendingPathComponent("marker").path
        try await withPool(workers: 1) { (pool: ProcessPool, loop: EventLoop) async throws in
            // The only worker is busy: a job with a deadline waits in the
            // queue, times out there, and never runs.
            let blocker = Task { try await pool.run(TestJobs.waitForFile, gate) }
            #expect(await eventually { pool.busyWorkerCount == 1 })
            await #expect(throws: RingLoopError.timedOut(operation: "ProcessPool.run(touch)")) {
                try await pool.run(TestJobs.touch, marker, deadline: .now() + .milliseconds(100))
            }
            _ = FileManager.default.createFile(atPath: gate, contents: nil)
            #expect(try await blocker.value)
            #expect(try await pool.run(TestJobs.square, 3) == 9, "the queue moved past the expired job")
            #expect(!FileManager.default.fileExists(atPath: marker), "a job that expired in the queue ran")
            // A job running at its deadline has its worker killed and replaced.
            let first = try await pool.run(TestJobs.pid, 0)
            await #expect(throws: RingLoopError.timedOut(operation: "ProcessPool.run(sleep)")) {
                try await pool.run(TestJobs.sleep, 30_000, deadline: .now() + .milliseconds(100))
            }
            #expect(!isUnreaped(first))
            #expect(try await pool.run(TestJobs.pid, 0) != first)
            #expect(try await pool.run(TestJobs.square, 4, deadline: .now() + .seconds(30)) == 16)
            #expect(try await loop.submit { loop.pendingTimerCount }.get() == 0, "finished jobs disarm their deadlines")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func cancelledQueuedJobNeverRuns() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringloop-pool-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let gate = directory.appendingPathComponent("gate").path
        let marker = directory.appendingPathComponent("marker").path
        try await withPool(workers: 1) { (pool: ProcessPool, _: EventLoop) async throws in
            let blocker = Task { try await pool.run(TestJobs.waitForFile, gate) }
            #expect(await eventually { pool.busyWorkerCount == 1 })
            let queued = Task { try await pool.run(TestJobs.touch, marker) }
            #expect(await eventually { pool.queuedCount == 1 })
            queued.cancel()
            await #expect(throws: CancellationError.self) { try await queued.value }
            _ = FileManager.default.createFile(atPath: gate, contents: nil)
            #expect(try await blocker.value)
            // One job after it: the queue has moved past the cancelled one.
            #expect(try await pool.run(TestJobs.square, 2) == 4)
            #expect(!FileManager.default.fileExists(atPath: marker), "a cancelled queued job ran")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func cancelledRunningJobKillsItsWorker() async throws {
        try await withPool(workers: 1) { (pool: ProcessPool, _: EventLoop) async throws in
            let first = try await pool.run(TestJobs.pid, 0)
            let running = Task { try await pool.run(TestJobs.sleep, 30_000) }
            #expect(await eventually { pool.busyWorkerCount == 1 })
            running.cancel()
            await #expect(throws: CancellationError.self) { try await running.value }
            #expect(!isUnreaped(first))
            #expect(try await pool.run(TestJobs.pid, 0) != first)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func fullQueueMakesSubmittersWait() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringloop-pool-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let gate = directory.appendingPathComponent("gate").path
        try await withPool(workers: 1, queueCapacity: 2) { (pool: ProcessPool, _: EventLoop) async throws in
            let blocker = Task { try await pool.run(TestJobs.waitForFile, gate) }
            #expect(await eventually { pool.busyWorkerCount == 1 })
            let queued = (1...2).map { n in Task { try await pool.run(TestJobs.square, n) } }
            #expect(await eventually { pool.queuedCount == 2 })
            let waiting = Task { try await pool.run(TestJobs.square, 3) }
            // The third submitter waits for room, its job not queued.
            #expect(await eventually { pool.queue.waiterCount == 1 })
            #expect(pool.queuedCount == 2)
            _ = FileManager.default.createFile(atPath: gate, contents: nil)
            #expect(try await blocker.value)
            #expect(try await queued[0].value == 1)
            #expect(try await queued[1].value == 4)
            #expect(try await waiting.value == 9)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func gracefulShutdownRunsQueuedJobsAndReapsEveryWorker() async throws {
        try await withLoop { loop in
            let fdsBefore = openFDCount()
            let pool = try ProcessPool(workerCount: 2, executable: workerExecutable, on: loop)
            let pids = pool.workerPIDs
            #expect(pids.count == 2)
            let jobs = (1...4).map { n in Task { try await pool.run(TestJobs.sleep, 100 * n) } }
            // Two running and two queued: all four submitted before the shutdown
            // (two queued alone could be the first two, not yet taken by a worker).
            #expect(await eventually { pool.busyWorkerCount == 2 && pool.queuedCount == 2 })
            await pool.shutdown()
            for (n, job) in jobs.enumerated() { #expect(try await job.value == 100 * (n + 1)) }
            for pid in pids { #expect(!isUnreaped(pid)) }
            #expect(childProcesses().isDisjoint(with: pids))
            #expect(openFDCount() == fdsBefore)
            await #expect(throws: RingLoopError.shutDown) { try await pool.run(TestJobs.square, 1) }
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func cancellingShutdownFailsPendingJobsAndKillsWorkers() async throws {
        try await withLoop { loop in
            let fdsBefore = openFDCount()
            let pool = try ProcessPool(workerCount: 1, queueCapacity: 4, executable: workerExecutable, on: loop)
            let pids = pool.workerPIDs
            let running = Task { try await pool.run(TestJobs.sleep, 30_000) }
            #expect(await eventually { pool.busyWorkerCount == 1 })
            let queued = Task { try await pool.run(TestJobs.square, 2) }
            #expect(await eventually { pool.queuedCount == 1 })
            await pool.shutdown(cancellingPending: true)
            await #expect(throws: RingLoopError.shutDown) { try await running.value }
            await #expect(throws: RingLoopError.shutDown) { try await queued.value }
            for pid in pids { #expect(!isUnreaped(pid)) }
            #expect(childProcesses().isDisjoint(with: pids))
            #expect(openFDCount() == fdsBefore)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func workerHasOnlyStandardDescriptorsAndItsSocket() async throws {
        try await withPool(workers: 1) { (pool: ProcessPool, _: EventLoop) async throws in
            #expect(try await pool.run(TestJobs.descriptors, 0) == [0, 1, 2, 3])
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func executorSubmitReturnsAFutureOnTheLoopAskedFor() async throws {
        try await withPool { (pool: ProcessPool, loop: EventLoop) async throws in
            let other = try EventLoop.spawn()
            let onPool: Future<Int> = pool.submit(TestJobs.square, 6)
            let onOther: Future<Int> = pool.submit(TestJobs.square, 7, on: other)
            #expect(onPool.eventLoop === loop && onOther.eventLoop === other)
            #expect(try await value(of: onPool) == 36)
            #expect(try await value(of: onOther) == 49)
            let withTimeout: Future<Int32> = pool.submit(TestJobs.pid, 0, timeout: .seconds(30))
            #expect(try await value(of: withTimeout) > 0)
            await other.shutdownGracefully()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func futureResultWithATimeoutStopsTheJobAndReplacesItsWorker() async throws {
        try await withPool(workers: 1) { (pool: ProcessPool, _: EventLoop) async throws in
            let first = try await pool.run(TestJobs.pid, 0)
            let limited: Future<Int> = pool.submit(TestJobs.sleep, 30_000, deadline: .now() + .milliseconds(100))
            await #expect(throws: RingLoopError.timedOut(operation: "ProcessPool.run(sleep)")) { _ = try await value(of: limited) }
            #expect(await eventually { !isUnreaped(first) }, "the job's worker was killed")
            let timed: Future<Int> = pool.submit(TestJobs.sleep, 30_000, timeout: .milliseconds(100))
            await #expect(throws: RingLoopError.timedOut(operation: "ProcessPool.run(sleep)")) { _ = try await value(of: timed) }
            let inTime: Future<Int> = pool.submit(TestJobs.square, 5, deadline: .now() + .seconds(30))
            #expect(try await value(of: inTime) == 25)
        }
    }
}
