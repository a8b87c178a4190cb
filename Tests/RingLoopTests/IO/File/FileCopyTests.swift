import Foundation
import SystemPackage
import Testing
@testable import FileCopy
@testable import RingLoop

/// The file-copy program's copy, run in-process: every outcome is either a
/// complete copy or a one-line error with no partial destination left.
@Suite("file-copy")
struct FileCopyTests {
    /// Runs a copy with `arguments` on a fresh loop; returns the one-line
    /// error, or nil on success.
    private func copy(_ arguments: [String], asUser uid: UInt32? = nil) async throws -> String? {
        var parsed = try CopyOptions.parse(arguments)
        parsed.quiet = true
        let options = parsed
        let fds = openFDCount()
        var message: String?
        try await withLoop { loop in
            if let uid { _ = try await loop.submit { setFileSystemUserID(uid) }.get() }
            message = try await loop.run {
                do throws(CopyError) {
                    try await FileCopier(options: options, loop: loop).run()
                    return nil
                } catch {
                    return error.message
                }
            }
            #expect(try await inFlight(loop) == 0)
        }
        #expect(openFDCount() == fds)
        return message
    }

    /// Names in `dir` other than `expected`: leftovers of a failed copy.
    private func leftovers(_ dir: FilePath, expected: Set<String>) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.string).filter { !expected.contains($0) }
    }

    @Test func copiesContentPermissionsAndHoles() async throws {
        try await withTemporaryDirectory { dir in
            let src = dir.appending("src"), dst = dir.appending("dst")
            let bytes = patternBytes(3 * (1 << 20) + 5)
            try writeFileSynchronously(src, bytes, permissions: [.ownerReadWriteExecute, .groupRead])
            #expect(try await copy([src.string, dst.string, "-b", "64K", "-d", "4", "--verify"]) == nil)
            #expect(try readFileSynchronously(dst) == bytes)
            let mode = try FileManager.default.attributesOfItem(atPath: dst.string)[.posixPermissions] as? Int
            #expect(mode == 0o740)

            // Sparse: data at 1 MiB and at the very end, holes elsewhere.
            let sparse = dir.appending("sparse"), sparseCopy = dir.appending("sparse-copy")
            let handle = try FileDescriptor.open(sparse, .writeOnly, options: [.create], permissions: [.ownerReadWrite])
            _ = try handle.writeAll(toAbsoluteOffset: 1 << 20, [1, 2, 3])
            _ = try handle.writeAll(toAbsoluteOffset: (64 << 20) - 1, [9])
            try handle.close()
            #expect(try await copy([sparse.string, sparseCopy.string]) == nil)
            #expect(try readFileSynchronously(sparseCopy) == readFileSynchronously(sparse))
            var copied: FileStatus?
            try await withLoop { loop in copied = try await FileSystem(eventLoop: loop).status(of: sparseCopy) }
            #expect(copied?.size == 64 << 20)
            #expect((copied?.allocatedSize ?? .max) < 1 << 20)

            // Empty file; into a directory; across file systems (/dev/shm is tmpfs).
            let empty = dir.appending("empty")
            try writeFileSynchronously(empty, [])
            #expect(try await copy([empty.string, dir.appending("empty-copy").string]) == nil)
            #expect(try readFileSynchronously(dir.appending("empty-copy")) == [])
            try FileManager.default.createDirectory(atPath: dir.appending("into").string, withIntermediateDirectories: false)
            #expect(try await copy([src.string, dir.appending("into").string]) == nil)
            #expect(try readFileSynchronously(dir.appending("into/src")) == bytes)
            let shm = FilePath("/dev/shm/ringloop-file-copy-test-\(getpid())")
            defer { unlink(shm.string) }
            #expect(try await copy([src.string, shm.string, "--direct", "--fixed-buffers", "--verify"]) == nil)
            #expect(try readFileSynchronously(shm) == bytes)
            #expect(try leftovers(dir, expected: ["src", "dst", "sparse", "sparse-copy", "empty", "empty-copy", "into"]) == [])
        }
    }

    @Test func cpuPlacementIsChosenOnTheCommandLineOrLeftToTheLoad() throws {
        #expect(try CopyOptions.parse(["a", "b"]).splitCPUs == nil)
        #expect(try CopyOptions.parse(["--split-cpus", "a", "b"]).splitCPUs == true)
        #expect(try CopyOptions.parse(["--no-split-cpus", "a", "b"]).splitCPUs == false)
        #expect(throws: CopyError.self) { try CopyOptions.parse(["--split-cpus", "--no-split-cpus", "a", "b"]) }
    }

    @Test func refusesToOverwriteUnlessForced() async throws {
        try await withTemporaryDirectory { dir in
            let src = dir.appending("src"), dst = dir.appending("dst")
            try writeFileSynchronously(src, [1, 2, 3])
            try writeFileSynchronously(dst, [7])
            #expect(try await copy([src.string, dst.string]) == "file-copy: '\(dst)' exists (use --force to replace it)")
            #expect(try readFileSynchronously(dst) == [7])
            #expect(try await copy([src.string, dst.string, "--force"]) == nil)
            #expect(try readFileSynchronously(dst) == [1, 2, 3])
            #expect(try await copy([src.string, src.string, "--force"]) == "file-copy: '\(src)' and '\(src)' are the same file")
            #expect(try leftovers(dir, expected: ["src", "dst"]) == [])
        }
    }

    @Test func everyErrorIsOneLineAndLeavesNoPartialCopy() async throws {
        try await withTemporaryDirectory { dir in
            let src = dir.appending("src"), dst = dir.appending("dst")
            try writeFileSynchronously(src, patternBytes(4 << 20), permissions: [.ownerReadWrite])
            let missing = dir.appending("missing")
            #expect(try await copy([missing.string, dst.string]) == "file-copy: cannot open '\(missing)': No such file or directory")
            #expect(try await copy([dir.string, dst.string]) == "file-copy: '\(dir)' is a directory (only files are copied)")
            #expect(try await copy(["/dev/null", dst.string]) == "file-copy: '/dev/null' is not a regular file")
            #expect(try await copy([src.string, "/nonexistent-dir/x"]) == "file-copy: cannot create '/nonexistent-dir/x': No such file or directory")

            // No permission: the source is 0600 and root's; copy as "nobody"
            // (as root, by dropping the loop thread's file-system user ID).
            if geteuid() == 0 {
                // The directory is searchable but not writable by others.
                try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.string)
                #expect(try await copy([src.string, "/tmp/ringloop-nobody-\(getpid())"], asUser: 65534)
                        == "file-copy: cannot open '\(src)': Permission denied")
                let open = dir.appending("readable")
                try writeFileSynchronously(open, [1], permissions: [.ownerReadWrite, .groupRead, .otherRead])
                #expect(try await copy([open.string, dir.appending("x").string], asUser: 65534)
                        == "file-copy: cannot create '\(dir.appending("x"))': Permission denied")
            }

            // Disk full, as far as this process is concerned: a file-size
            // limit makes writes past 1 MiB fail (EFBIG) midway through.
            signal(SIGXFSZ, SIG_IGN)
            var old = rlimit()
            getrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &old)
            var limit = rlimit(rlim_cur: 1 << 20, rlim_max: old.rlim_max)
            setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limit)
            let full = try await copy([src.string, dst.string, "--no-preallocate", "-b", "256K"])
            setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &old)
            #expect(full == "file-copy: cannot write '\(dst)': File too large")
            #expect(try leftovers(dir, expected: ["src", "readable"]) == [])
        }
    }
}
