import Foundation
import SystemPackage
import Testing
@testable import RingLoop

/// Every failure the file-copy program must report, as typed errors from the
/// File API, with no descriptor left open.
@Suite("File errors")
struct FileErrorTests {
    @Test func missingFileIsNoSuchFileOrDirectory() async throws {
        try await withTemporaryDirectory { dir in
            try await withLoop { loop in
                let fds = openFDCount()
                await #expect(throws: IOError("openat", .noSuchFileOrDirectory)) {
                    _ = try await File.open(dir.appending("missing"), on: loop)
                }
                await #expect(throws: IOError("openat", .noSuchFileOrDirectory)) {
                    _ = try await File.open(dir.appending("no/such/dir"), .writeOnly, options: [.create], on: loop)
                }
                let future: Future<File> = File.open(dir.appending("missing"), on: loop)
                await #expect(throws: IOError("openat", .noSuchFileOrDirectory)) { _ = try await future.get() }
                let left = try await inFlight(loop)
                #expect(left == 0)
                #expect(openFDCount() == fds)
            }
        }
    }

    @Test func permissionDeniedIsTyped() async throws {
        try await withTemporaryDirectory { dir in
            try await withLoop { loop in
                let fds = openFDCount()
                let secret = dir.appending("secret")
                try writeFileSynchronously(secret, [1, 2, 3], permissions: [.ownerReadWrite])
                let locked = dir.appending("locked")
                try FileManager.default.createDirectory(atPath: locked.string, withIntermediateDirectories: false,
                                                        attributes: [.posixPermissions: 0o500])
                // As root, drop to an unprivileged file-system user ID on the
                // loop thread (the thread that submits); the kernel checks the
                // submitter's credentials.
                let asRoot = geteuid() == 0
                if asRoot {
                    _ = try await loop.submit { setFileSystemUserID(65534) }.get()
                } else {
                    try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: secret.string)
                }
                await #expect(throws: IOError("openat", .permissionDenied)) {
                    _ = try await File.open(secret, on: loop)
                }
                await #expect(throws: IOError("openat", .permissionDenied)) {
                    _ = try await File.open(locked.appending("new"), .writeOnly, options: [.create], on: loop)
                }
                await #expect(throws: IOError("unlinkat", .permissionDenied)) {
                    try await FileSystem(eventLoop: loop).unlink(secret)
                }
                if asRoot { _ = try await loop.submit { setFileSystemUserID(0) }.get() }
                #expect(try await inFlight(loop) == 0)
                #expect(openFDCount() == fds)
            }
        }
    }

    @Test func diskFullIsNoSpace() async throws {
        try await withLoop { loop in
            let fds = openFDCount()
            // /dev/full answers every write with ENOSPC, as a full disk does.
            let full = try await File.open("/dev/full", .writeOnly, on: loop)
            await #expect(throws: IOError("write", .noSpace)) {
                try await full.write(FileBuffer(capacity: 1 << 20), at: 0)
            }
            await #expect(throws: IOError("writev", .noSpace)) {
                try await full.write([FileBuffer(capacity: 10), FileBuffer(capacity: 10)], at: 0)
            }
            try await full.close()
            #expect(try await inFlight(loop) == 0)
            #expect(openFDCount() == fds)
        }
    }

    @Test func directoryWhereAFileIsExpectedIsTyped() async throws {
        try await withTemporaryDirectory { dir in
            try await withLoop { loop in
                let fds = openFDCount()
                await #expect(throws: IOError("openat", .isDirectory)) {
                    _ = try await File.open(dir, .writeOnly, on: loop)
                }
                // Opening a directory read-only succeeds; reading it does not.
                let directory = try await File.open(dir, on: loop)
                await #expect(throws: IOError("read", .isDirectory)) { _ = try await directory.read(count: 10, at: 0) }
                await #expect(throws: IOError("read", .isDirectory)) { _ = try await directory.readAll() }
                #expect(try await directory.stat().type == .directory)
                try await directory.close()
                await #expect(throws: IOError("openat", .notDirectory)) {
                    _ = try await File.open("/dev/null/x", on: loop)
                }
                #expect(try await inFlight(loop) == 0)
                #expect(openFDCount() == fds)
            }
        }
    }

    @Test func misuseIsTypedNotFatal() async throws {
        try await withTemporaryDirectory { dir in
            try await withLoop { loop in
                let fds = openFDCount()
                let path = dir.appending("x")
                try writeFileSynchronously(path, [1])
                await #expect(throws: IOError("openat", .fileExists)) {
                    _ = try await File.open(path, .writeOnly, options: [.create, .exclusiveCreate], on: loop)
                }
                let readOnly = try await File.open(path, on: loop)
                await #expect(throws: IOError("write", .badFileDescriptor)) { try await readOnly.write([1], at: 0) }
                let buffer = FileBuffer(capacity: 8)
                await #expect(throws: IOError("read", .invalidArgument)) { _ = try await readOnly.read(into: buffer, count: 9, at: 0) }
                await #expect(throws: IOError("read", .invalidArgument)) { _ = try await readOnly.read(into: buffer, at: -1) }
                await #expect(throws: IOError("write", .invalidArgument)) { try await readOnly.write(buffer, count: -1, at: 0) }
                try await readOnly.close()
                #expect(openFDCount() == fds)
            }
        }
    }

    @Test func operationsAfterShutdownFailWithShutDown() async throws {
        try await withTemporaryDirectory { dir in
            let fds = openFDCount()
            let loop = try EventLoop.spawn()
            let file = try await File.open(dir.appending("late"), .readWrite, options: [.create], on: loop)
            await loop.shutdownGracefully()
            await #expect(throws: RingLoopError.shutDown) { try await file.write([1], at: 0) }
            await #expect(throws: RingLoopError.shutDown) { _ = try await File.open(dir.appending("late"), on: loop) }
            // Closing still releases the descriptor (synchronously).
            try await file.close()
            #expect(openFDCount() == fds)
        }
    }
}
