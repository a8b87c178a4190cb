/// The output buffer of a `parallelMap`: one allocation for every result,
/// which each chunk initializes in place over its own range, then moved into
/// the returned array in one copy.
///
/// Cleans up after failure: a chunk that throws deinitializes what it wrote
/// itself; the ranges of chunks that completed are recorded, and deinitialized
/// by `deinit` unless `takeArray()` moved them out.
// Safe to share: chunks write disjoint ranges of `base`; `filled` and `taken`
// are guarded by `lock`; `takeArray()` runs after every chunk has finished
// (the caller is resumed through the chunk collector's lock).
@usableFromInline final class ChunkOutput<T>: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutablePointer<T>
    @usableFromInline let count: Int
    private let lock = Lock()
    private var filled: [Range<Int>] = []
    private var taken = false

    @usableFromInline
    init(count: Int) {
        self.count = count
        base = .allocate(capacity: count)
    }

    deinit {
        if !taken {
            for range in filled { (base + range.lowerBound).deinitialize(count: range.count) }
        }
        base.deallocate()
    }

    /// Initializes `range` with `produce(index)`, checking for cancellation
    /// every 128 elements. On a throw, what was written is deinitialized.
    @inlinable
    func fill(_ range: Range<Int>, _ produce: (Int) throws -> T) throws {
        var index = range.lowerBound
        do {
            while index < range.upperBound {
                if (index - range.lowerBound) & 127 == 0 { try ThreadPool.checkCancellation() }
                (base + index).initialize(to: try produce(index))
                index += 1
            }
        } catch {
            (base + range.lowerBound).deinitialize(count: index - range.lowerBound)
            throw error
        }
        markFilled(range)
    }

    @usableFromInline
    func markFilled(_ range: Range<Int>) {
        lock.withLock { filled.append(range) }
    }

    /// Moves every result into an array; only once every chunk has filled
    /// its range.
    @inlinable
    func takeArray() -> [T] {
        markTaken()
        return Array(unsafeUninitializedCapacity: count) { buffer, initialized in
            guard let target = buffer.baseAddress else { return }
            target.moveInitialize(from: base, count: count)
            initialized = count
        }
    }

    @usableFromInline
    func markTaken() {
        lock.withLock { taken = true }
    }
}
