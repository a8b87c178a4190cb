import RingLoop
import Synchronization

/// Runs `body` over every block of `extents`, with one worker per buffer set
/// so that `bufferSets.count` blocks are in flight at once.
///
/// Each worker takes the next block, runs `body` on it with its own buffers
/// (a read then a write, for a copy), and takes the next. Blocks are handed
/// out in file order, so the kernel sees a sequential stream. The workers are
/// child tasks of the caller and so run on the caller's event loop; the first
/// error cancels the others (their in-flight operations are cancelled) and is
/// rethrown.
enum Pipeline {
    struct Chunk: Sendable {
        let offset: Int64
        let count: Int
    }

    static func run(
        extents: [Range<Int64>], blockSize: Int, bufferSets: [[FileBuffer]],
        _ body: @escaping @Sendable ([FileBuffer], Chunk) async throws -> Void
    ) async throws {
        let cursor = ChunkCursor(extents: extents, blockSize: blockSize)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for buffers in bufferSets {
                group.addTask {
                    while let chunk = cursor.next() {
                        try Task.checkCancellation()
                        try await body(buffers, chunk)
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}

/// Hands out the blocks of a list of extents, in order, to several workers.
final class ChunkCursor: Sendable {
    private struct Position {
        var extent = 0
        var offset: Int64
    }

    private let extents: [Range<Int64>]
    private let blockSize: Int64
    private let position: Mutex<Position>

    init(extents: [Range<Int64>], blockSize: Int) {
        self.extents = extents
        self.blockSize = Int64(blockSize)
        self.position = Mutex(Position(offset: extents.first?.lowerBound ?? 0))
    }

    func next() -> Pipeline.Chunk? {
        position.withLock { position in
            while position.extent < extents.count {
                let range = extents[position.extent]
                if position.offset < range.lowerBound { position.offset = range.lowerBound }
                if position.offset < range.upperBound {
                    let count = min(blockSize, range.upperBound - position.offset)
                    defer { position.offset += count }
                    return Pipeline.Chunk(offset: position.offset, count: Int(count))
                }
                position.extent += 1
            }
            return nil
        }
    }
}
