import Foundation
import SystemPackage
import Testing
@testable import FileCopy
@testable import RingLoop

/// file-copy where sizes lie and processes die: pseudo-files whose size reads
/// as 0, and copies killed with SIGKILL midway.
@Suite("file-copy recovery", .serialized)
struct FileCopyRecoveryTests {
    /// Runs a copy with `arguments` on a fresh loop; returns the one-line
    /// error, or nil on success.
    private static func copy(_ arguments: [String], anonymous: Bool = true) async throws -> String? {
        var parsed = try CopyOptions.parse(arguments)
        parsed.quiet = true
        parsed.anonymousTemporary = anonymous
        let options = parsed
        return try await withLoop { loop in
            try await loop.run {
                do throws(CopyError) {
                    try await FileCopier(options: options, loop: loop).run()
                    return nil
                } catch {
                    return error.message
                }
            }
        }
    }

    /// The whole of a file, read until EOF (Foundation's `Data(contentsOf:)`
    /// trusts st_size and stops after one read of a pseudo-file).
    private static func readToEnd(_ path: String) throws -> [UInt8] {
        let fd = try FileDescriptor.open(path, .readOnly)
        defer { try? fd.close() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
            if n == 0 { return bytes }
            bytes += chunk[0..<n]
        }
    }

    private func names(in dir: FilePath) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.string).sorted()
    }

    @Test func pseudoFilesWhoseSizeReadsAsZeroAreCopiedToTheirEnd() async throws {
        try await withTemporaryDirectory { dir in
            // /proc/kallsyms: megabytes, many blocks, each of which procfs
            // fills with short reads. Only sources that read the same twice
            // can be compared afterwards.
            var compared = 0
            for (source, arguments) in [("/proc/kallsyms", ["-b", "64K", "--verify"]),
                                        ("/proc/kallsyms", ["-b", "64K", "--direct", "--verify"]),
                                        ("/proc/self/mountinfo", ["-b", "4K", "--verify"]),
                                        ("/proc/version", [])] {
                guard let expected = try? Self.readToEnd(source), !expected.isEmpty,
                      (try? Self.readToEnd(source)) == expected else { continue }
                let size = try FileManager.default.attributesOfItem(atPath: source)[.size] as? Int
                #expect(size == 0, "\(source) is not a pseudo-file here")
                let target = dir.appending("copy")
                #expect(try await Self.copy([source, target.string] + arguments) == nil)
                let copied = try readFileSynchronously(target)
                let same = copied == expected
                #expect(same, "\(source) \(arguments): \(copied.count) bytes copied, \(expected.count) expected")
                try FileManager.default.removeItem(atPath: target.string)
                compared += 1
            }
            #expect(compared >= 2)
            // A file that changes between reads: the copy is verified
            // against what was read, not against a second reading.
            #expect(try await Self.copy(["/proc/cpuinfo", dir.appending("cpuinfo").string, "--verify"]) == nil)
            let cpuinfo = try readFileSynchronously(dir.appending("cpuinfo"))
            #expect(String(decoding: cpuinfo, as: UTF8.self).hasPrefix("processor"))
            #expect(try names(in: dir) == ["cpuinfo"])
        }
    }

    @Test func staleNamedTemporariesOfDeadProcessesAreRemoved() async throws {
        try await withTemporaryDirectory { dir in
            let destination = dir.appending("dst")
            // A process that has exited (and been reaped): its PID is free.
            var dead: pid_t = 0
            let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
            defer { argv.forEach { free($0) } }
            try #require(posix_spawn(&dead, "/bin/true", nil, nil, argv, nil) == 0)
            var status: Int32 = 0
            _ = waitpid(dead, &status, 0)

            let mine = TemporaryCopy.namedPath(for: destination).lastComponent!.string
            #expect(TemporaryCopy.ownerPID(ofTemporary: mine) == getpid())
            let ofDead = mine.replacingOccurrences(of: "-\(getpid())-", with: "-\(dead)-")
            let ofLive = mine.replacingOccurrences(of: "-\(getpid())-", with: "-1-")
            let other = ".dst.file-copy-notours"
            for name in [mine, ofDead, ofLive, other] { try writeFileSynchronously(dir.appending(name), [1]) }
            #expect(TemporaryCopy.removeStale(near: destination) == [ofDead])
            #expect(try names(in: dir) == [mine, ofLive, other].sorted())
        }
    }

    /// Set in the environment of the copying child process:
    /// "SRC DST anonymous|named".
    static let copierRoleVariable = "RINGLOOP_TEST_FILE_COPY_CHILD"

    /// A copy killed with SIGKILL midway leaves nothing visible when the file
    /// system has O_TMPFILE; in the named fallback it leaves a temporary that
    /// the next copy into that directory removes.
    @Test(.timeLimit(.minutes(1)), arguments: [true, false])
    func aCopyKilledMidwayLeavesNoTemporaryBehind(anonymous: Bool) async throws {
        try await withTemporaryDirectory { dir in
            let source = dir.appending("src"), out = dir.appending("out")
            try FileManager.default.createDirectory(atPath: out.string, withIntermediateDirectories: false)
            let block = patternBytes(1 << 20)
            let total = 16 << 20
            let fd = try FileDescriptor.open(source, .writeOnly, options: [.create], permissions: [.ownerReadWrite])
            for _ in 0..<(total >> 20) { _ = try fd.writeAll(block) }
            try fd.close()

            let child = try ChildProcess(
                arguments: ["--testing-library", "swift-testing", "--filter", "copyingChildRole"],
                environment: [Self.copierRoleVariable: "\(source) \(out.appending("dst")) \(anonymous ? "anonymous" : "named")"]
            )
            defer { child.kill() }
            let pid = child.processID
            // Kill it once its temporary holds some of the data, but not all.
            var seen = 0
            let midway = await eventually(timeout: .seconds(20)) {
                seen = Self.temporarySize(of: pid, in: out) ?? 0
                return seen > 0 && seen < total
            }
            try #require(midway, "the child's copy was not seen midway (last size \(seen))")
            kill(pid, SIGKILL)
            #expect(child.wait() == -SIGKILL)

            let left = try names(in: out)
            if anonymous {
                #expect(left == [])
            } else {
                #expect(left.count == 1)
                #expect(left.first.flatMap(TemporaryCopy.ownerPID(ofTemporary:)) == pid)
                // The next copy into the directory removes it.
                try writeFileSynchronously(dir.appending("small"), [1, 2, 3])
                #expect(try await Self.copy([dir.appending("small").string, out.appending("next").string], anonymous: false) == nil)
                #expect(try names(in: out) == ["next"])
            }
        }
    }

    /// The size of the file `pid` has open in `directory` (its temporary),
    /// through /proc/PID/fd (stat follows the link even to an unlinked file).
    private static func temporarySize(of pid: pid_t, in directory: FilePath) -> Int? {
        let fds = "/proc/\(pid)/fd"
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: fds)) ?? [] {
            let link = "\(fds)/\(entry)"
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: link),
                  target.hasPrefix(directory.string + "/") else { continue }
            var status = stat()
            if stat(link, &status) == 0 { return Int(status.st_size) }
        }
        return nil
    }

    /// The copy that `aCopyKilledMidwayLeavesNoTemporaryBehind` kills, run in
    /// a child process: small O_DIRECT blocks one at a time, without
    /// preallocation, so the temporary grows slowly and visibly.
    @Test(.enabled(if: ProcessInfo.processInfo.environment[FileCopyRecoveryTests.copierRoleVariable] != nil))
    func copyingChildRole() async throws {
        let spec = (ProcessInfo.processInfo.environment[Self.copierRoleVariable] ?? "").split(separator: " ").map(String.init)
        try #require(spec.count == 3)
        _ = try await Self.copy([spec[0], spec[1], "-b", "4K", "-d", "1", "--direct", "--no-preallocate"],
                                anonymous: spec[2] == "anonymous")
    }
}
