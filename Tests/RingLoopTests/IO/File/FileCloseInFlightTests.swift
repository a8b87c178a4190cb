import Foundation
import SystemPackage
import Testing
@testable import RingLoop

/// Closing a file while a transfer is in flight: the submission already in
/// the kernel finishes, but the rest of a short transfer is never submitted on
/// the old descriptor number, which the next open may have reused.
///
/// On the epoll backend a FIFO is not seekable, so its transfers are
/// readiness operations, which the close cancels (`.canceled`) instead.
@Suite("File close with transfers in flight")
struct FileCloseInFlightTests {
    /// A FIFO in a fresh directory, on a fresh loop.
    private func withFIFO(_ body: (FilePath, FilePath, EventLoop) async throws -> Void) async throws {
        try await withTemporaryDirectory { dir in
            let fifo = dir.appending("fifo")
            guard mkfifo(fifo.string, 0o600) == 0 else { throw IOError("mkfifo", Errno(rawValue: errno)) }
            try await withLoop { loop in try await body(fifo, dir.appending("other"), loop) }
        }
    }

    /// Waits until the transfer is in flight.
    private func waitUntilInFlight(_ loop: EventLoop) async -> Bool {
        await eventually { (try? await loop.submit { loop.inFlightOperations }.get()) == 1 }
    }

    /// Expects `body` to throw `IOError(operation, errno)`.
    private func expectIOError(
        _ operation: String, _ errno: Errno, sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () async throws -> Void
    ) async {
        do {
            try await body()
            Issue.record("no error; expected \(operation) \(errno)", sourceLocation: sourceLocation)
        } catch let error as IOError {
            #expect(error.operation == operation && error.errno == errno, "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func shortReadAfterCloseFailsAndNeverReadsTheFileThatReusedTheNumber() async throws {
        try await withFIFO { fifoPath, otherPath, loop in
            try writeFileSynchronously(otherPath, Array(repeating: 0xEE, count: 64))
            let fifo = try await File.open(fifoPath, .readWrite, on: loop)
            let number = fifo.descriptor.rawValue
            let buffer = FileBuffer(capacity: 8)
            let read = Task { try await fifo.read(into: buffer, count: 8, at: 0) }
            #expect(await waitUntilInFlight(loop))

            try await fifo.close()
            let other = try await File.open(otherPath, .readOnly, on: loop)
            try #require(other.descriptor.rawValue == number, "the next open reuses the closed number")

            if loop.backend.kind == .epoll {
                await expectIOError("read", .canceled) { _ = try await read.value }
            } else {
                // Three of the eight bytes: the read comes back short, after the close.
                let writer = open(fifoPath.string, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
                try #require(writer >= 0)
                defer { _ = Glibc.close(writer) }
                let bytes: [UInt8] = [1, 2, 3]
                #expect(Glibc.write(writer, bytes, 3) == 3)
                await expectIOError("read", .badFileDescriptor) { _ = try await read.value }
                #expect(Array(UnsafeRawBufferPointer(start: buffer.address, count: 3)) == [1, 2, 3])
            }
            #expect(!Array(UnsafeRawBufferPointer(start: buffer.address, count: 8)).contains(0xEE))
            try await other.close()
        }
    }

    @Test func shortWriteAfterCloseReportsThePartialCountAndNeverWritesTheFileThatReusedTheNumber() async throws {
        try await withFIFO { fifoPath, otherPath, loop in
            try writeFileSynchronously(otherPath, [])
            let fifo = try await File.open(fifoPath, .readWrite, on: loop)
            let number = fifo.descriptor.rawValue
            let reader = open(fifoPath.string, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            try #require(reader >= 0)
            defer { _ = Glibc.close(reader) }
            // One page of pipe, full: the next write waits for room.
            // F_SETPIPE_SZ (F_LINUX_SPECIFIC_BASE + 7; not imported from Glibc).
            try #require(fcntl(number, 1031, 4096) == 4096)
            try await fifo.write(patternBytes(4096), at: 0)

            let data = patternBytes(8192, seed: 7)
            let write = Task { try await fifo.write(data, at: 0) }
            #expect(await waitUntilInFlight(loop))

            try await fifo.close()
            let other = try await File.open(otherPath, .readWrite, on: loop)
            try #require(other.descriptor.rawValue == number, "the next open reuses the closed number")

            var chunk = [UInt8](repeating: 0, count: 4096)
            if loop.backend.kind == .epoll {
                await expectIOError("write", .canceled) { _ = try await write.value }
            } else {
                // Room for half: the write comes back short (4096), after the close.
                #expect(Glibc.read(reader, &chunk, 4096) == 4096)
                do {
                    try await write.value
                    Issue.record("the write went on after the close")
                } catch let error as PartialWriteError {
                    #expect(error.written == 4096)
                    #expect(error.requested == 8192)
                    #expect((error.reason as? IOError)?.operation == "write")
                    #expect((error.reason as? IOError)?.errno == .badFileDescriptor)
                }
                #expect(Glibc.read(reader, &chunk, 4096) == 4096)
                #expect(chunk == Array(data[0..<4096]))
            }
            #expect(try await other.stat().size == 0)
            try await other.close()
        }
    }
}
