#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import RingLoop
import Synchronization

/// Processes: RingLoop's ProcessPool against its ThreadPool and a process spawned per job
/// (tiny and ~1 ms CPU jobs, throughput and one-at-a-time round trips); Subprocess
/// spawn-and-wait of /bin/true against Foundation's Process and swift-subprocess; a child
/// writing 1 GiB to a pipe, read by ByteStream against `cat > /dev/null`. Every job's
/// result is checked, and so is every byte count.
enum ProcessSection {
    /// The tiny job (the offload section's).
    static let tiny = ProcessPool.Job<Int, Int>(name: "tiny") { OffloadSection.tinyJob($0) }
    /// About 1 ms of CPU on this machine (1M steps measured 0.35 ms): a dependent chain of
    /// multiply-adds.
    static let cpu = ProcessPool.Job<Int, Int>(name: "cpu") { cpuJob($0) }

    @inline(never)
    static func cpuJob(_ seed: Int) -> Int {
        var x = seed
        for _ in 0..<3_000_000 { x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }
        return x
    }

    /// The variable that makes ringloop-bench run one job and print its result.
    static let oneJobVariable = "RINGLOOP_BENCH_ONE_JOB"

    /// Serves pool jobs, or runs the one job named in the environment, and exits; returns
    /// in the benchmark's own process.
    static func runWorkerIfRequested() {
        ProcessPool.runWorkerIfRequested(serving: [tiny, cpu])
        guard let spec = getenv(oneJobVariable).map({ String(cString: $0) }) else { return }
        let parts = spec.split(separator: ":")
        guard parts.count == 2, let input = Int(parts[1]) else { exit(2) }
        print(parts[0] == "cpu" ? cpuJob(input) : OffloadSection.tinyJob(input))
        exit(0)
    }

    static func make(quick: Bool) throws -> MicroSection {
        let loop = try EventLoop.spawn()
        let cores = System.coreCount
        let processPool = try ProcessPool(on: loop)
        let threadPool = ThreadPool(name: "bench-process-peer")
        let window = 2 * cores
        let tinyJobs = quick ? 20_000 : 100_000
        let cpuJobs = quick ? 1_000 : 4_000
        let spawnedJobs = quick ? 300 : 1_000
        let trips = quick ? 2_000 : 10_000
        let spawns = quick ? 300 : 1_000
        let pipeBytes = 1 << 30
        let me = try ownPath()

        var cases: [MicroCase] = []
        for (job, name, jobs) in [(tiny, "tiny job", tinyJobs), (cpu, "~1 ms CPU job", cpuJobs)] {
            let compute: @Sendable (Int) -> Int = name == "tiny job" ? OffloadSection.tinyJob : cpuJob
            let group = "\(name), \(window) in flight from a task on the loop"
            cases.append(MicroCase(group: group, name: "ProcessPool.run (\(processPool.workerCount) workers)",
                                   isRingLoop: true, operations: jobs) { n, watch in
                try windowed(loop, n, window, watch, compute) { try await processPool.run(job, $0) }
            })
            cases.append(MicroCase(group: group, name: "ThreadPool.run (\(threadPool.threadCount) threads)",
                                   isRingLoop: false, operations: jobs) { n, watch in
                try windowed(loop, n, window, watch, compute) { i in try await threadPool.run { compute(i) } }
            })
            cases.append(MicroCase(group: group, name: "a process spawned per job", isRingLoop: false,
                                   operations: min(jobs, spawnedJobs)) { n, watch in
                try windowed(loop, n, cores, watch, compute) { i in
                    try await oneJobProcess(me, name == "tiny job" ? "tiny" : "cpu", i, loop)
                }
            })
        }

        let trip = "tiny job, one at a time (round trip)"
        cases.append(MicroCase(group: trip, name: "ProcessPool.run", isRingLoop: true, operations: trips) { n, watch in
            try OffloadSection.awaitTrips(loop, n, watch) { try await processPool.run(tiny, $0) }
        })
        cases.append(MicroCase(group: trip, name: "ThreadPool.run", isRingLoop: false, operations: trips) { n, watch in
            try OffloadSection.awaitTrips(loop, n, watch) { i in try await threadPool.run { OffloadSection.tinyJob(i) } }
        })
        cases.append(MicroCase(group: trip, name: "a process spawned per job", isRingLoop: false,
                               operations: spawnedJobs) { n, watch in
            try OffloadSection.awaitTrips(loop, n, watch) { try await oneJobProcess(me, "tiny", $0, loop) }
        })

        let spawn = "spawn /bin/true and wait for it"
        cases.append(MicroCase(group: spawn, name: "RingLoop Subprocess", isRingLoop: true, operations: spawns) { n, watch in
            try spawnTrips(loop, n, watch) {
                let child = try Subprocess.spawn(.path("/bin/true"), input: .discarded, output: .discarded,
                                                 error: .discarded, on: loop)
                return try await child.wait().isSuccess
            }
        })
        cases.append(MicroCase(group: spawn, name: "Foundation Process", isRingLoop: false, operations: spawns) { n, watch in
            try spawnTrips(loop, n, watch) {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/bin/true")
                process.standardInput = FileHandle.nullDevice
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                process.waitUntilExit()
                return process.terminationStatus == 0
            }
        })
        cases.append(MicroCase(group: spawn, name: "swift-subprocess 1.0.2", isRingLoop: false, operations: spawns) { n, watch in
            try spawnTrips(loop, n, watch) { try await SwiftSubprocessPeer.spawnAndWait("/bin/true") }
        })

        // ops = MiB, so ops/s reads as MiB/s.
        let pipe = "1 GiB through a pipe from head -c (MiB/s)"
        cases.append(MicroCase(group: pipe, name: "ByteStream reads the child's stdout", isRingLoop: true,
                               operations: pipeBytes >> 20) { _, watch in
            let total = try loop.makeFutureWithTask { () -> Int in
                let child = try Subprocess.spawn(.name("head"), arguments: ["-c", "\(pipeBytes)", "/dev/zero"],
                                                 input: .discarded, output: .pipe, error: .inherit, on: loop)
                let stdout = child.standardOutput!
                defer { stdout.close() }
                let buffer = FileBuffer(capacity: 64 << 10)
                var total = 0
                while true {
                    let n = try await stdout.read(into: buffer)
                    if n == 0 { break }
                    total += n
                }
                guard try await child.wait().isSuccess else { throw BenchFailure("head failed") }
                return total
            }.wait()
            watch.stop()
            guard total == pipeBytes else { throw BenchFailure("read \(total) bytes of \(pipeBytes)") }
            return nil
        })
        cases.append(MicroCase(group: pipe, name: "cat > /dev/null", isRingLoop: false, operations: pipeBytes >> 20) { _, watch in
            let ok = try loop.makeFutureWithTask { () -> Bool in
                let result = try await Subprocess.run(
                    .name("sh"), arguments: ["-c", "head -c \(pipeBytes) /dev/zero | cat > /dev/null"], on: loop)
                return result.terminationStatus.isSuccess
            }.wait()
            watch.stop()
            guard ok else { throw BenchFailure("head | cat failed") }
            return nil
        })

        return MicroSection(
            id: .process,
            title: "process: ProcessPool (\(processPool.workerCount) workers) vs ThreadPool and a process per job; "
                + "spawn-and-wait; pipe throughput",
            notes: ["the ~1 ms job is 3M dependent multiply-adds; a process per job re-runs ringloop-bench, "
                    + "which prints the result (\(cores) in flight)",
                    "CPU µs/op counts this process only: not the pool's workers, spawned children, head or cat",
                    "pipe: ops/s is MiB/s; the cat peer runs head | cat under sh, spawned by RingLoop"],
            rounds: quick ? 2 : 5,
            cases: cases,
            teardown: {
                _ = try? loop.makeFutureWithTask { await processPool.shutdown() }.wait()
                try? threadPool.syncShutdownGracefully()
                try? loop.syncShutdownGracefully()
            })
    }

    private static func ownPath() throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { throw BenchFailure("readlink /proc/self/exe failed") }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Runs one job in a fresh ringloop-bench process and parses its output.
    static func oneJobProcess(_ path: String, _ kind: String, _ input: Int, _ loop: EventLoop) async throws -> Int {
        let result = try await Subprocess.run(
            .path(.init(path)), environment: .inherit.updating([oneJobVariable: "\(kind):\(input)"]), on: loop)
        guard result.terminationStatus.isSuccess,
              let value = Int(result.standardOutputText.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw BenchFailure("one-job process failed: \(result.terminationStatus)")
        }
        return value
    }

    /// In a task on `loop`, runs `job(i)` for i in 0..<n with at most `window` in flight;
    /// checks every result against `compute`. Returns each job's latency in µs.
    static func windowed(
        _ loop: EventLoop, _ n: Int, _ window: Int, _ watch: Stopwatch, _ compute: @escaping @Sendable (Int) -> Int,
        _ job: @escaping @Sendable (Int) async throws -> Int
    ) throws -> [Double] {
        let (sum, latencies) = try loop.makeFutureWithTask { () -> (Int, [Double]) in
            try await withThrowingTaskGroup(of: (Int, Double).self) { group in
                var sum = 0
                var latencies: [Double] = []
                latencies.reserveCapacity(n)
                var next = 0
                func launch(_ i: Int) {
                    group.addTask {
                        let sent = monotonicSeconds()
                        let value = try await job(i)
                        return (value, (monotonicSeconds() - sent) * 1e6)
                    }
                }
                while next < min(window, n) { launch(next); next += 1 }
                while let (value, latency) = try await group.next() {
                    sum &+= value
                    latencies.append(latency)
                    if next < n { launch(next); next += 1 }
                }
                return (sum, latencies)
            }
        }.wait()
        watch.stop()
        let expected = expectedSum(n, compute)
        guard sum == expected, latencies.count == n else { throw BenchFailure("\(n) jobs: wrong sum or count") }
        return latencies
    }

    /// The sum of `compute(0..<n)`, computed once per job and count (the ~1 ms job would
    /// otherwise cost the parent a second per thousand checks, every round).
    private static func expectedSum(_ n: Int, _ compute: @Sendable (Int) -> Int) -> Int {
        let key = "\(compute(1)):\(n)"
        if let known = expectedSums.withLock({ $0[key] }) { return known }
        var sum = 0
        for i in 0..<n { sum &+= compute(i) }
        expectedSums.withLock { $0[key] = sum }
        return sum
    }

    private static let expectedSums = Mutex<[String: Int]>([:])

    /// In a task on `loop`, runs `body` n times in turn; every run must report success.
    static func spawnTrips(_ loop: EventLoop, _ n: Int, _ watch: Stopwatch,
                           _ body: @escaping @Sendable () async throws -> Bool) throws -> [Double] {
        let (ok, latencies) = try loop.makeFutureWithTask { () -> (Int, [Double]) in
            var latencies: [Double] = []
            var ok = 0
            for _ in 0..<n {
                let sent = monotonicSeconds()
                if try await body() { ok += 1 }
                latencies.append((monotonicSeconds() - sent) * 1e6)
            }
            return (ok, latencies)
        }.wait()
        watch.stop()
        guard ok == n else { throw BenchFailure("\(n - ok) of \(n) spawns failed") }
        return latencies
    }
}
