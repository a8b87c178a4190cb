import Foundation
import SystemPackage
import Testing
@testable import RingLoop

@Suite("File")
struct FileTests {
    @Test func writtenBytesReadBackExactlyThroughEveryReadForm() async throws {
        try await withTemporaryDirectory { dir in
            try await withLoop { loop in
                let fds = openFDCount()
                let path = dir.appending("data")
                let bytes = patternBytes(100_000)
                let file = try await File.open(path, .readWrite, options: [.create, .exclusiveCreate], on: loop)
                try await file.write(bytes, at: 0)
                #expect(try await file.read(count: 100_000, at: 0) == bytes)
                #expect(try await file.read(count: 10, at: 500) == Array(bytes[500..<510]))
                #expect(try await file.readAll() == bytes)
                let buffer = FileBuffer(capacity: 100_000)
                try await file.readExactly(into: buffer, at: 0)
                #expect(buffer.bytes(0..<100_000) == bytes)
                try await file.close()
                #expect(try readFileSynchronously(path) == bytes)
                #expect(try await inFlight(loop) == 0)
                #expect(openFDCount() == fds)
            }
        }
    }

    @Test func filesFromZeroBytesToSeveralMegabytesRoundTrip() async throws {
        try await withTemporaryDirectory { dir in
            try await withLoop { loop in
                let fds = openFDCount()
                let sizes = [0, 1, 4095, 4096, 4097, 65_535, 65_536, 65_537, (1 << 20) + 1, 3 * (1 << 20) + 7, 17 * (1 << 20) - 3]
                for (i, size) in sizes.enumerated() {
                    let path = dir.appending("f\(i)")
                    let bytes = patternBytes(size, seed: UInt64(i + 1))
                    let file = try await File.open(path, .writeOnly, options: [.create, .truncate], on: loop)
                    try await file.write(FileBuffer(bytes), at: 0)
                    try await file.close()
                    let reader = try await File.open(path, on: loop)
                    #expect(try await reader.stat().size == Int64(size))
                    let back = try await reader.readAll()
                    #expect(back.count == size)
                    #expect(back == bytes, "size \(size)")
                    // A buffer one byte larger than the file: a short count is the end.
                    let buffer = FileBuffer(capacity: size + 1)
                    #expect(try await reader.read(into: buffer, at: 0) == size)
                    try await reader.close()
                }
                #expect(try await inFlight(loop) == 0)
                #expect(openFDCount() == fds)
            }
        }
    }

    @Test func readsPastTheEndReturnShortCountsThenZero() async throws {
        try await withTemporaryDirectory { dir in
            try await withLoop { loop in
                let path = dir.appending("short")
                let bytes = patternBytes(100)
                try writeFileSynchronously(path, bytes)
                let file = try await File.open(path, on: loop)
                let buffer = FileBuffer(capacity: 4096)
                #expect(try await file.read(into: buffer, at: 0) == 100)
                #expect(buffer.bytes(0..<100) == bytes)
                #expect(try await file.read(into: buffer, at: 60) == 40)
                #expect(try await file.read(into: buffer, at: 100) == 0)
                #expect(try await file.read(into: buffer, at: 1 << 40) == 0)
                #expect(try await file.read(count: 10, at: 95) == Array(bytes[95...]))
                #expect(try await file.read(count: 10, at: 100) == [])
                await #expect(throws: EndOfFileError(offset: 50, requested: 4096, available: 50)) {
                    try await file.readExactly(into: buffer, at: 50)
                }
                await #expect(throws: EndOfFileError(offset: 100, requested: 1, available: 0)) {
                    try await file.readExactly(into: buffer, count: 1, at: 100)
                }
                // The future form reports the end the same way.
                #expect(try await file.read(into: buffer, at: 90).get() == 10)
                try await file.close()
            }
        }
    }

    @Test func writesBeyondTheEndLeaveAHoleThatReadsAsZeros() async throws {
        try await withTemporaryDirectory { dir in
            try await withLoop { loop in
                let path = dir.appending("sparse")
                let file = try await File.open(path, .readWrite, options: [.create], on: loop)
                let tail = patternBytes(1000)
                let offset: Int64 = 8 << 20
                try await file.write(tail, at: offset)
                let status = try await file.stat()
                #expect(status.size == offset + 1000)
                #expect(status.allocatedSize < status.size)
                let hole = try await file.read(count: Int(offset), at: 0)
                #expect(hole.count == Int(offset))
                #expect(hole.allSatisfy { $0 == 0 })
                #expect(try await file.read(count: 2000, at: offset) == tail)
                // Overwrite inside, then append right at the end.
                try await file.write([1, 2, 3], at: 10)
                try await file.write([9], at: offset + 1000)
                #expect(try await file.read(count: 5, at: 9) == [0, 1, 2, 3, 0])
                #expect(try await file.stat().size == offset + 1001)
                try await file.close()
            }
        }
    }

    @Test func vectoredTransfersSpanBuffersInOrder() async throws {
        try await withTemporaryDirectory { dir in
            try await withLoop { loop in
                let path = dir.appending("vectored")
                let bytes = patternBytes(10_000)
                let parts = [FileBuffer(Array(bytes[0..<3000])), FileBuffer(Array(bytes[3000..<3001])), FileBuffer(Array(bytes[3001...]))]
                let file = try await File.open(path, .readWrite, options: [.create], on: loop)
                try await file.write(parts, at: 0)
                // `count` stops inside the last buffer.
                try await file.write(parts, count: 3500, at: 20_000)
                #expect(try await file.stat().size == 23_500)
                let into = [FileBuffer(capacity: 1), FileBuffer(capacity: 4999), FileBuffer(capacity: 8000)]
                #expect(try await file.read(into: into, at: 0) == 13_000)
                let joined = into[0].bytes(0..<1) + into[1].bytes(0..<4999) + into[2].bytes(0..<8000)
                #expect(Array(joined[0..<10_000]) == bytes)
                #expect(joined[10_000...].allSatisfy { $0 == 0 })
                // Past the end: a short vectored read.
                #expect(try await file.read(into: into, at: 20_000) == 3500)
                #expect(into[1].bytes(0..<2499) == Array(bytes[1..<2500]))
                #expect(try await file.read(into: into, at: 30_000) == 0)
                try await file.close()
            }
        }
    }

    @Test func futureFormsRunOnTheSameMachinery() async throws {
        try await withTemporaryDirectory { dir in
            try await withLoop { loop in
                let fds = openFDCount()
                let path = dir.appending("futures")
                let opened: Future<File> = File.open(path, .readWrite, options: [.create], on: loop)
                let file = try await opened.get()
                let done: Future<Void> = file.write(Array("hello".utf8), at: 0)
                    .flatMap { file.write(Array(" world".utf8), at: 5) }
                    .flatMap { file.syncData() }
                try await done.get()
                let size: Future<Int64> = file.stat().map { $0.size }
                #expect(try await size.get() == 11)
                let all: Future<[UInt8]> = file.readAll()
                #expect(try await all.get() == Array("hello world".utf8))
                let closed: Future<Void> = file.close()
                try await closed.get()
                let removed: Future<Void> = FileSystem(eventLoop: loop).unlink(path)
                try removed.wait()
                #expect(try await inFlight(loop) == 0)
                #expect(openFDCount() == fds)
            }
        }
    }

    @Test func statReportsTypeSizePermissionsAndTimes() async throws {
        try await withTemporaryDirectory { dir in
            try await withLoop { loop in
                let path = dir.appending("stat")
                let before = Int64(Date().timeIntervalSince1970) - 2
                let file = try await File.open(path, .writeOnly, options: [.create], permissions: [.ownerReadWrite, .groupRead], on: loop)
                try await file.write(patternBytes(12_345), at: 0)
                let status = try await file.stat()
                #expect(status.type == .regular)
                #expect(status.size == 12_345)
                #expect(status.permissions == [.ownerReadWrite, .groupRead])
                #expect(status.linkCount == 1)
                #expect(status.userID == getuid())
                #expect(status.modificationTime.seconds >= before)
                #expect(status.modificationTime.seconds <= Int64(Date().timeIntervalSince1970) + 2)
                #expect(status.allocatedSize >= 12_345)
                let fs = FileSystem(eventLoop: loop)
                let byPath = try await fs.status(of: path)
                #expect(byPath.isSameFile(as: status))
                #expect(try await fs.status(of: dir).type == .directory)
                #expect(try await fs.status(of: "/dev/null").type == .characterDevice)
                try await file.close()
            }
        }
    }

    @Test func truncateAllocateAndSyncChangeSizeAndStorage() async throws {
        try await withTemporaryDirectory { dir in
            try await withLoop { loop in
                let path = dir.appending("sizes")
                let file = try await File.open(path, .readWrite, options: [.create], on: loop)
                try await file.write(patternBytes(100_000), at: 0)
                try await file.sync()
                try await file.truncate(to: 10)
                #expect(try await file.stat().size == 10)
                try await file.truncate(to: 1 << 20)
                #expect(try await file.stat().size == 1 << 20)
                #expect(try await file.read(count: 10, at: (1 << 20) - 10) == [UInt8](repeating: 0, count: 10))
                try await file.allocate(at: 0, length: 4 << 20)
                var status = try await file.stat()
                #expect(status.size == 4 << 20)
                #expect(status.allocatedSize >= 4 << 20)
                try await file.allocate(at: 4 << 20, length: 1 << 20, keepSize: true)
                #expect(try await file.stat().size == 4 << 20)
                try await file.punchHole(at: 0, length: 2 << 20)
                status = try await file.stat()
                #expect(status.size == 4 << 20)
                #expect(status.allocatedSize <= 3 << 20 + 64 << 10)
                try await file.syncData()
                try await file.close()
            }
        }
    }

    @Test func renameUnlinkAndDirectoriesWorkThroughTheRing() async throws {
        try await withTemporaryDirectory { dir in
            try await withLoop { loop in
                let fs = FileSystem(eventLoop: loop)
                let sub = dir.appending("sub")
                try await fs.makeDirectory(sub, permissions: [.ownerReadWriteExecute])
                #expect(try await fs.status(of: sub).type == .directory)
                await #expect(throws: IOError("mkdirat", .fileExists)) { try await fs.makeDirectory(sub) }
                let a = sub.appending("a"), b = sub.appending("b")
                try writeFileSynchronously(a, [1])
                try writeFileSynchronously(b, [2])
                await #expect(throws: IOError("renameat", .fileExists)) {
                    try await fs.rename(a, to: b, replacingExisting: false)
                }
                try await fs.rename(a, to: b)
                #expect(try readFileSynchronously(b) == [1])
                await #expect(throws: IOError("statx", .noSuchFileOrDirectory)) { try await fs.status(of: a) }
                await #expect(throws: IOError("unlinkat", .directoryNotEmpty)) { try await fs.removeDirectory(sub) }
                await #expect(throws: IOError("unlinkat", .isDirectory)) { try await fs.unlink(sub) }
                try await fs.unlink(b)
                await #expect(throws: IOError("unlinkat", .noSuchFileOrDirectory)) { try await fs.unlink(b) }
                try await fs.removeDirectory(sub)
                #expect(!FileManager.default.fileExists(atPath: sub.string))
                #expect(symlink("/nonexistent-target", dir.appending("link").string) == 0)
                #expect(try await fs.status(of: dir.appending("link"), followSymlinks: false).type == .symbolicLink)
            }
        }
    }

    @Test func closedFileRefusesOperationsAndASecondClose() async throws {
        try await withTemporaryDirectory { dir in
            try await withLoop { loop in
                let fds = openFDCount()
                let file = try await File.open(dir.appending("c"), .readWrite, options: [.create], on: loop)
                #expect(openFDCount() == fds + 1)
                try await file.close()
                #expect(openFDCount() == fds)
                await #expect(throws: RingLoopError.alreadyClosed(operation: "File.close")) { try await file.close() }
                await #expect(throws: IOError("read", .badFileDescriptor)) { _ = try await file.read(count: 1, at: 0) }
                await #expect(throws: IOError("write", .badFileDescriptor)) { try await file.write([1], at: 0) }
                await #expect(throws: IOError("statx", .badFileDescriptor)) { _ = try await file.stat() }
                await #expect(throws: IOError("fsync", .badFileDescriptor)) { try await file.sync() }
                await #expect(throws: IOError("ftruncate", .badFileDescriptor)) { try await file.truncate(to: 0) }
            }
        }
    }

    @Test func droppedFileClosesItsDescriptor() async throws {
        try await withTemporaryDirectory { dir in
            try await withLoop { loop in
                let fds = openFDCount()
                do {
                    let file = try await File.open(dir.appending("dropped"), .writeOnly, options: [.create], on: loop)
                    try await file.write([1, 2, 3], at: 0)
                    #expect(openFDCount() == fds + 1)
                }
                #expect(await eventually { openFDCount() == fds })
            }
        }
    }

    @Test func registeredFileAndFixedBuffersRoundTrip() async throws {
        try await withTemporaryDirectory { dir in
            try await withLoop { loop in
                let fds = openFDCount()
                let fixed = try await FixedBuffers.register(count: 4, capacity: 256 << 10, on: loop)
                let file = try await File.open(dir.appending("fixed"), .readWrite, options: [.create], on: loop)
                try await file.register()
                // Registration is an io_uring feature; on epoll it degrades to
                // the plain descriptor (and plain buffers), with the same results.
                #expect(try await loop.submit { file.isRegistered }.get() == (loop.ioBackend == .ioUring))
                let bytes = patternBytes(4 * (256 << 10))
                for (i, buffer) in fixed.buffers.enumerated() {
                    buffer.copyBytes(from: bytes[(i * (256 << 10))..<((i + 1) * (256 << 10))])
                }
                for (i, buffer) in fixed.buffers.enumerated() {
                    try await file.write(buffer, at: Int64(i * (256 << 10)))
                }
                for buffer in fixed.buffers { buffer.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
                for (i, buffer) in fixed.buffers.enumerated().reversed() {
                    #expect(try await file.read(into: buffer, at: Int64(i * (256 << 10))) == 256 << 10)
                }
                #expect(fixed.buffers.map { $0.bytes(0..<(256 << 10)) }.joined().elementsEqual(bytes))
                // Short read into a fixed buffer at the end of the file.
                #expect(try await file.read(into: fixed.buffers[0], at: Int64(bytes.count) - 100) == 100)
                // A plain buffer on a registered file, vectored too.
                #expect(try await file.read(count: 8, at: 3) == Array(bytes[3..<11]))
                #expect(try await file.read(into: [FileBuffer(capacity: 3), FileBuffer(capacity: 5)], at: 0) == 8)
                #expect(try await file.stat().size == Int64(bytes.count))
                await fixed.unregister()
                // Unregistered buffers keep working as plain buffers.
                #expect(try await file.read(into: fixed.buffers[1], at: 0) == 256 << 10)
                try await file.close()
                #expect(try await inFlight(loop) == 0)
                #expect(openFDCount() == fds)
            }
        }
    }

    @Test func directIOTransfersAlignedBlocksAndAShortLastBlock() async throws {
        try await withTemporaryDirectory { dir in
            try await withLoop { loop in
                let path = dir.appending("direct")
                let size = 3 * (1 << 20) + 123
                let bytes = patternBytes(size)
                let file: File
                do {
                    file = try await File.open(path, .readWrite, options: [.create, .directIO], on: loop)
                } catch let error as IOError where error.errno == .invalidArgument {
                    return  // this file system has no O_DIRECT (tmpfs)
                }
                let block = FileBuffer(capacity: 1 << 20)
                for i in 0..<3 {
                    block.copyBytes(from: bytes[(i << 20)..<((i + 1) << 20)])
                    try await file.write(block, at: Int64(i << 20))
                }
                // An O_DIRECT write of a partial block is refused…
                block.copyBytes(from: bytes[(3 << 20)...])
                await #expect(throws: IOError("write", .invalidArgument)) {
                    try await file.write(block, count: 123, at: 3 << 20)
                }
                // …so write a whole block and cut the file back.
                try await file.write(block, count: 4096, at: 3 << 20)
                try await file.truncate(to: Int64(size))
                #expect(try await file.readAll() == bytes)
                #expect(try await file.read(into: block, at: 3 << 20) == 123)
                try await file.close()
            }
        }
    }
}
