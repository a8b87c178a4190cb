import Foundation
import SystemPackage
import Testing
@testable import RingLoop

@Suite("File (large)")
struct FileLargeTests {
    /// The expected contents of block `index`: a fixed pseudo-random block
    /// with the block index and page number stamped at the start of every
    /// page, so a misplaced, repeated or missing block cannot compare equal.
    private static func fill(_ buffer: FileBuffer, from base: [UInt8], block index: Int, count: Int) {
        buffer.withUnsafeMutableBytes { target in
            base.withUnsafeBytes { source in
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<count]))
            }
            var page = 0
            while page * 4096 + 8 <= count {
                target.storeBytes(of: UInt64(index) << 32 | UInt64(page), toByteOffset: page * 4096, as: UInt64.self)
                page += 1
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func oneGibibytePlusOneByteRoundTripsExactly() async throws {
        try await withTemporaryDirectory { dir in
            try await withLoop { loop in
                let fds = openFDCount()
                let path = dir.appending("huge")
                let total: Int64 = (1 << 30) + 1
                let blockSize = 8 << 20
                let base = patternBytes(blockSize, seed: 42)
                let blocks = Int((total + Int64(blockSize) - 1) / Int64(blockSize))
                let depth = 4
                let writeBuffers = (0..<depth).map { _ in FileBuffer(capacity: blockSize) }

                let file = try await File.open(path, .readWrite, options: [.create, .exclusiveCreate], on: loop)
                // Writes: `depth` blocks in flight at a time.
                var next = 0
                while next < blocks {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for slot in 0..<depth where next + slot < blocks {
                            let index = next + slot
                            let count = Int(min(Int64(blockSize), total - Int64(index) * Int64(blockSize)))
                            FileLargeTests.fill(writeBuffers[slot], from: base, block: index, count: count)
                            let buffer = writeBuffers[slot]
                            group.addTask { try await file.write(buffer, count: count, at: Int64(index) * Int64(blockSize)) }
                        }
                        try await group.waitForAll()
                    }
                    next += depth
                }
                #expect(try await file.stat().size == total)

                // Reads: whole blocks, the last one short (1 byte), then EOF.
                let readBuffer = FileBuffer(capacity: blockSize)
                let expected = FileBuffer(capacity: blockSize)
                var mismatches = 0
                for index in 0..<blocks {
                    let offset = Int64(index) * Int64(blockSize)
                    let n = try await file.read(into: readBuffer, at: offset)
                    let count = Int(min(Int64(blockSize), total - offset))
                    #expect(n == count)
                    FileLargeTests.fill(expected, from: base, block: index, count: count)
                    if memcmp(readBuffer.address, expected.address, count) != 0 { mismatches += 1 }
                }
                #expect(mismatches == 0)
                #expect(try await file.read(into: readBuffer, at: total) == 0)
                try await file.close()
                try await FileSystem(eventLoop: loop).unlink(path)
                #expect(try await inFlight(loop) == 0)
                #expect(openFDCount() == fds)
            }
        }
    }
}
