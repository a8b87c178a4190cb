import Foundation
import SystemPackage
import Testing
@testable import RingLoop

@Suite struct ByteStreamTests {
    @Test(.timeLimit(.minutes(1)))
    func partialReadsArriveBeforeTheWriterCloses() async throws {
        try await withLoop { loop in
            let (readEnd, writeEnd) = try ByteStream.makePipe(on: loop)
            try await writeEnd.write(Array("hello".utf8))
            // The writer is still open: the read returns what is there.
            #expect(try await readEnd.read(upTo: 1024) == Array("hello".utf8))
            try await writeEnd.write(Array(" world".utf8))
            #expect(try await readEnd.read(upTo: 3) == Array(" wo".utf8))
            #expect(try await readEnd.read(upTo: 1024) == Array("rld".utf8))
            writeEnd.close()
            #expect(try await readEnd.read(upTo: 1024) == [], "end of stream reads as empty")
            #expect(try await readEnd.read(upTo: 1024) == [], "and stays there")
            readEnd.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func linesArriveAsTheirNewlinesDo() async throws {
        try await withLoop { loop in
            let (readEnd, writeEnd) = try ByteStream.makePipe(on: loop)
            var lines = readEnd.lines.makeAsyncIterator()
            try await writeEnd.write(Array("one\ntw".utf8))
            #expect(try await lines.next() == "one")
            try await writeEnd.write(Array("o\n\nlast".utf8))
            #expect(try await lines.next() == "two")
            #expect(try await lines.next() == "")
            writeEnd.close()
            #expect(try await lines.next() == "last", "an unterminated last line comes at end of stream")
            #expect(try await lines.next() == nil)
            readEnd.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func manyLinesPerChunkAllArriveInOrder() async throws {
        try await withLoop { loop in
            let (readEnd, writeEnd) = try ByteStream.makePipe(on: loop)
            let count = 20_000
            let writer = Task {
                try await writeEnd.write(Array((0..<count).map { "line \($0)\n" }.joined().utf8))
                writeEnd.close()
            }
            var expected = 0
            for try await line in readEnd.lines {
                if line != "line \(expected)" { break }
                expected += 1
            }
            try await writer.value
            #expect(expected == count)
            readEnd.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func chunksEndAtEndOfStream() async throws {
        try await withLoop { loop in
            let (readEnd, writeEnd) = try ByteStream.makePipe(on: loop)
            let writer = Task {
                for i in 0..<10 { try await writeEnd.write([UInt8](repeating: UInt8(i), count: 1000)) }
                writeEnd.close()
            }
            var received: [UInt8] = []
            for try await chunk in readEnd.chunks(maxChunk: 4096) {
                #expect(!chunk.isEmpty && chunk.count <= 4096)
                received += chunk
            }
            try await writer.value
            #expect(received == (0..<10).flatMap { [UInt8](repeating: UInt8($0), count: 1000) })
            readEnd.close()
        }
    }

    /// 1 GiB from one task to another through a pipe, checked byte for byte:
    /// every 1 MiB block carries its index, so a lost, repeated or reordered
    /// block is caught, not only a wrong total. About a second in debug builds.
    @Test(.timeLimit(.minutes(1)))
    func oneGibibyteThroughAPipeIsByteExact() async throws {
        try await withLoop { loop in
            let (readEnd, writeEnd) = try ByteStream.makePipe(on: loop)
            _ = fcntl(writeEnd.descriptor.rawValue, 1031 /* F_SETPIPE_SZ */, 1 << 20)
            let block = 1 << 20
            let blocks = 1024
            func fill(_ buffer: FileBuffer, index: Int) {
                buffer.withUnsafeMutableBytes { bytes in
                    if index == 0 { for i in 0..<block { bytes[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 9) } }
                    bytes.storeBytes(of: UInt64(index), toByteOffset: 0, as: UInt64.self)
                }
            }
            let writer = Task {
                let buffer = FileBuffer(capacity: block)
                fill(buffer, index: 0)
                for index in 0..<blocks {
                    fill(buffer, index: index)
                    try await writeEnd.write(buffer)
                }
                writeEnd.close()
            }
            let expected = FileBuffer(capacity: block)
            fill(expected, index: 0)
            let received = FileBuffer(capacity: block)
            var total = 0
            var mismatches = 0
            while true {
                // Read at most up to the end of the current block, so one
                // comparison covers one read.
                let inBlock = total % block
                let n = try await readEnd.read(into: received, count: block - inBlock)
                if n == 0 { break }
                fill(expected, index: total / block)
                let same = received.withUnsafeBytes { got in
                    expected.withUnsafeBytes { want in memcmp(got.baseAddress!, want.baseAddress! + inBlock, n) == 0 }
                }
                if !same { mismatches += 1 }
                total += n
            }
            try await writer.value
            #expect(total == block * blocks)
            #expect(mismatches == 0)
            readEnd.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func cancelledReadThrowsCancellationAndLosesNoData() async throws {
        try await withLoop { loop in
            let (readEnd, writeEnd) = try ByteStream.makePipe(on: loop)
            let reader = Task { try await readEnd.read(upTo: 100) }
            #expect(try await eventually { try await inFlight(loop) == 1 })
            reader.cancel()
            await #expect(throws: CancellationError.self) { try await reader.value }
            #expect(try await inFlight(loop) == 0)
            try await writeEnd.write(Array("after".utf8))
            #expect(try await readEnd.read(upTo: 100) == Array("after".utf8))
            writeEnd.close()
            readEnd.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func cancelledWriteSaysHowMuchItWrote() async throws {
        try await withLoop { loop in
            let (readEnd, writeEnd) = try ByteStream.makePipe(on: loop)
            let size = 1 << 20   // more than the pipe holds (64 KiB by default)
            let writer = Task { try await writeEnd.write([UInt8](repeating: 7, count: size)) }
            #expect(try await eventually { try await inFlight(loop) == 1 })
            writer.cancel()
            do {
                try await writer.value
                Issue.record("the write cannot have finished: nobody read")
            } catch let error as PartialWriteError {
                #expect(error.written > 0 && error.written < size)
                #expect(error.reason is CancellationError)
                var drained = 0
                while drained < error.written { drained += try await readEnd.read(upTo: 1 << 16).count }
                #expect(drained == error.written)
            }
            writeEnd.close()
            readEnd.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func closingEndsAPendingRead() async throws {
        try await withLoop { loop in
            let (readEnd, writeEnd) = try ByteStream.makePipe(on: loop)
            let reader = Task { try await readEnd.read(upTo: 100) }
            #expect(try await eventually { try await inFlight(loop) == 1 })
            readEnd.close()
            await #expect(throws: IOError("read", .badFileDescriptor)) { try await reader.value }
            await #expect(throws: IOError("read", .badFileDescriptor)) { try await readEnd.read(upTo: 1) }
            writeEnd.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func writingToAPipeWithoutReaderFailsWithBrokenPipe() async throws {
        try await withLoop { loop in
            let (readEnd, writeEnd) = try ByteStream.makePipe(on: loop)
            readEnd.close()
            await #expect(throws: IOError("write", .brokenPipe)) { try await writeEnd.write([1, 2, 3]) }
            writeEnd.close()
        }
    }

    /// A descriptor adopted with `O_NONBLOCK` answers `EAGAIN`; the stream
    /// polls and retries instead of failing or spinning.
    @Test(.timeLimit(.minutes(1)))
    func adoptedNonBlockingDescriptorWaitsForData() async throws {
        try await withLoop { loop in
            var fds: [Int32] = [-1, -1]
            #expect(pipe(&fds) == 0)
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
            let readEnd = ByteStream(adopting: FileDescriptor(rawValue: fds[0]), on: loop)
            let writeEnd = ByteStream(adopting: FileDescriptor(rawValue: fds[1]), on: loop)
            let reader = Task { try await readEnd.read(upTo: 100) }
            #expect(try await eventually { try await inFlight(loop) == 1 })
            try await writeEnd.write(Array("ready".utf8))
            #expect(try await reader.value == Array("ready".utf8))
            writeEnd.close()
            #expect(try await readEnd.read(upTo: 100) == [])
            readEnd.close()
        }
    }
}
