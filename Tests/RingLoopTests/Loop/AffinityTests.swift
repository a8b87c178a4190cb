import Foundation
import RingLoop
import SystemPackage
import Testing

/// `Configuration.cpuAffinity` and `.kernelWorkerAffinity`, checked against
/// what the kernel reports (`sched_getaffinity`, `/proc/.../status`).
@Suite("CPU affinity")
struct AffinityTests {
    /// The CPUs this process may use, as the kernel lists them for the main thread.
    static var processCPUs: [Int] {
        CPUAffinity.processDefault ?? parseCPUList(statusField("Cpus_allowed_list", of: "/proc/self/status") ?? "")
    }

    @Test func aPinnedLoopRunsOnlyOnItsCPU() async throws {
        let cpu = try #require(Self.processCPUs.last)
        var configuration = EventLoop.Configuration()
        configuration.cpuAffinity = [cpu]
        let loop = try EventLoop.spawn(configuration: configuration)
        let (allowed, running) = try await loop.submit { (CPUAffinity.currentThreadCPUs(), CPUAffinity.currentCPU()) }.get()
        await loop.shutdownGracefully()
        #expect(allowed == [cpu])
        #expect(running == cpu)
    }

    @Test func aPinnedGroupPutsOneLoopOnEachCPU() async throws {
        let all = System.availableCPUs
        let group = try EventLoopGroup(numberOfLoops: all.count + 1, pinningLoopsToCPUs: true)
        var placements: [[Int]] = []
        for loop in group.loops {
            placements.append(try await loop.submit { CPUAffinity.currentThreadCPUs() }.get())
        }
        await group.shutdownGracefully()
        #expect(placements == (all + [all[0]]).map { [$0] })
        #expect(System.availableCPUs == all, "pinning loops does not narrow the process's CPUs")
    }

    @Test func aPoolStartedOnAPinnedLoopIsNotPinned() async throws {
        let all = Self.processCPUs
        var configuration = EventLoop.Configuration()
        configuration.cpuAffinity = [all[0]]
        let loop = try EventLoop.spawn(configuration: configuration)
        let pool = try await loop.submit { ThreadPool(threadCount: 1, name: "affinity-pool") }.get()
        let workerCPUs = try await pool.run { CPUAffinity.currentThreadCPUs() }
        await pool.shutdownGracefully()
        await loop.shutdownGracefully()
        #expect(workerCPUs == all)
    }

    @Test func aChildSpawnedFromAPinnedLoopIsNotPinned() async throws {
        let all = Self.processCPUs
        var configuration = EventLoop.Configuration()
        configuration.cpuAffinity = [all[0]]
        let loop = try EventLoop.spawn(configuration: configuration)
        // Spawned from a task running on the loop's (pinned) thread.
        let result = try await Task(executorPreference: loop) {
            #expect(CPUAffinity.currentThreadCPUs() == [all[0]])
            return try await Subprocess.run(
                .path("/bin/grep"), arguments: ["Cpus_allowed_list", "/proc/self/status"], on: loop)
        }.value
        let loopCPUs = try await loop.submit { CPUAffinity.currentThreadCPUs() }.get()
        await loop.shutdownGracefully()
        let line = String(decoding: result.standardOutput, as: UTF8.self)
        let childCPUs = parseCPUList(line.split(separator: ":").last.map(String.init) ?? "")
        #expect(childCPUs == all, "the child inherited the loop's pin: \(line)")
        #expect(loopCPUs == [all[0]], "the loop thread is pinned again after the spawn")
    }

    @Test func kernelWorkersRunOnTheirCPUs() async throws {
        let cpu = try #require(Self.processCPUs.last)
        var configuration = EventLoop.Configuration()
        configuration.cpuAffinity = [Self.processCPUs[0]]
        configuration.kernelWorkerAffinity = [cpu]
        let loop = try EventLoop.spawn(configuration: configuration)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringloop-affinity-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // fsync never completes inline: io_uring always hands it to an io-wq
        // worker, and the epoll backend to one of its blocking-call threads.
        let file = try await File.open(
            FilePath(directory.appendingPathComponent("data").path), .readWrite, options: [.create, .truncate], on: loop)
        try await file.write([UInt8](repeating: 7, count: 1 << 20), at: 0)
        try await file.sync()
        let workers = Self.threads { name in name.hasPrefix("iou-wrk") || name.hasPrefix("ringloop-io") }
        try await file.close()
        await loop.shutdownGracefully()
        #expect(!workers.isEmpty, "no kernel worker or blocking-call thread ran the fsync")
        for (name, cpus) in workers {
            #expect(cpus == [cpu], "\(name) may run on \(cpus)")
        }
    }

    @Test(arguments: [[], [-1], [CPUAffinity.capacity]])
    func aCPUListThatCannotBeAppliedFailsTheLoopsCreation(cpus: [Int]) async throws {
        let fdsBefore = openFDCount()
        for setting in ["cpuAffinity", "kernelWorkerAffinity"] {
            var configuration = EventLoop.Configuration()
            if setting == "cpuAffinity" { configuration.cpuAffinity = cpus } else { configuration.kernelWorkerAffinity = cpus }
            #expect {
                try EventLoop.spawn(configuration: configuration)
            } throws: { error in
                guard case let RingLoopError.invalidConfiguration(named, _) = error else { return false }
                return named == setting
            }
        }
        #expect(openFDCount() == fdsBefore)
    }

    @Test func kernelWorkersOnACPUThisProcessCannotUseAreRefused() async throws {
        let all = Self.processCPUs
        let missing = try #require((0..<CPUAffinity.capacity).first { !all.contains($0) })
        var configuration = EventLoop.Configuration()
        configuration.kernelWorkerAffinity = [missing]
        let fdsBefore = openFDCount()
        #expect {
            try EventLoop.spawn(configuration: configuration)
        } throws: { error in
            guard case let RingLoopError.invalidConfiguration(setting, _) = error else { return false }
            return setting == "kernelWorkerAffinity"
        }
        #expect(openFDCount() == fdsBefore)
    }

    /// This process's threads whose name matches, with the CPUs each may use.
    static func threads(named matches: (String) -> Bool) -> [(String, [Int])] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { tid in
            let status = "/proc/self/task/\(tid)/status"
            guard let name = statusField("Name", of: status), matches(name),
                  let list = statusField("Cpus_allowed_list", of: status) else { return nil }
            return (name, parseCPUList(list))
        }
    }
}

/// A field of a /proc status file, trimmed.
private func statusField(_ field: String, of path: String) -> String? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        return line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces)
    }
    return nil
}

/// "0-2,5" -> [0, 1, 2, 5].
private func parseCPUList(_ text: String) -> [Int] {
    text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").flatMap { part -> [Int] in
        let bounds = part.split(separator: "-").compactMap { Int($0) }
        if bounds.count == 2 { return Array(bounds[0]...bounds[1]) }
        return bounds
    }
}
