import RingLoop

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
// Safe to share: `extent` and `offset` are only touched under `lock`.
final class ChunkCursor: @unchecked Sendable {
    private let lock = Lock()
    private let extents: [Range<Int64>]
    private let blockSize: Int64
    private var extent = 0
    private var offset: Int64

    init(extents: [Range<Int64>], blockSize: Int) {
        self.extents = extents
        self.blockSize = Int64(blockSize)
        self.offset = extents.first?.lowerBound ?? 0
    }

    func next() -> Pipeline.Chunk? {
        lock.withLock {
            while extent < extents.count {
                let range = extents[extent]
                if offset < range.lowerBound { offset = range.lowerBound }
                if offset < range.upperBound {
                    let count = min(blockSize, range.upperBound - offset)
                    defer { offset += count }
                    return Pipeline.Chunk(offset: offset, count: Int(count))
                }
                extent += 1
            }
            return nil
        }
    }
}
