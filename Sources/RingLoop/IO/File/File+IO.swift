import SystemPackage

/// Reading and writing at offsets: whole-buffer transfers, vectored forms,
/// and `[UInt8]` conveniences.
extension File {
    // MARK: Reading into buffers

    /// Reads `count` bytes (default: the buffer's capacity) at `offset` into
    /// the start of `buffer`, resubmitting after short reads until the range
    /// is full or the file ends.
    ///
    /// - Returns: the number of bytes read: `count`, or fewer only when the
    ///   file ended (0 when `offset` is at or past the end).
    /// - Throws: `IOError("read", …)`; `.invalidArgument` for a count beyond
    ///   the capacity or a negative offset; `CancellationError` if the task is
    ///   cancelled (the buffer's contents are then unspecified).
    public func read(into buffer: FileBuffer, count: Int? = nil, at offset: Int64) async throws -> Int {
        try await eventLoop.performRequest(transfer(.read, "read", [buffer], count: count, offset: offset))
    }

    /// `read(into:count:at:)` for callback code.
    public func read(into buffer: FileBuffer, count: Int? = nil, at offset: Int64) -> Future<Int> {
        eventLoop.futureRequest(transfer(.read, "read", [buffer], count: count, offset: offset))
    }

    /// Reads exactly `count` bytes (default: the buffer's capacity) at
    /// `offset`, or throws `EndOfFileError` if the file ends first.
    public func readExactly(into buffer: FileBuffer, count: Int? = nil, at offset: Int64) async throws {
        try await eventLoop.performRequest(exactly(transfer(.read, "read", [buffer], count: count, offset: offset), count ?? buffer.capacity, offset))
    }

    /// `readExactly(into:count:at:)` for callback code.
    public func readExactly(into buffer: FileBuffer, count: Int? = nil, at offset: Int64) -> Future<Void> {
        eventLoop.futureRequest(exactly(transfer(.read, "read", [buffer], count: count, offset: offset), count ?? buffer.capacity, offset))
    }

    /// Vectored read (readv): fills `buffers` in order, `count` bytes in all
    /// (default: their total capacity), with the same whole-range semantics
    /// as `read(into:count:at:)`.
    public func read(into buffers: [FileBuffer], count: Int? = nil, at offset: Int64) async throws -> Int {
        try await eventLoop.performRequest(transfer(.read, "readv", buffers, count: count, offset: offset))
    }

    /// Vectored read for callback code.
    public func read(into buffers: [FileBuffer], count: Int? = nil, at offset: Int64) -> Future<Int> {
        eventLoop.futureRequest(transfer(.read, "readv", buffers, count: count, offset: offset))
    }

    // MARK: Reading into arrays

    /// Reads up to `count` bytes at `offset`; fewer only at end of file.
    public func read(count: Int, at offset: Int64) async throws -> [UInt8] {
        let buffer = FileBuffer(capacity: max(count, 0))
        let n = try await read(into: buffer, count: count, at: offset)
        return buffer.bytes(0..<n)
    }

    /// `read(count:at:)` for callback code.
    public func read(count: Int, at offset: Int64) -> Future<[UInt8]> {
        let buffer = FileBuffer(capacity: max(count, 0))
        return read(into: buffer, count: count, at: offset).map { buffer.bytes(0..<$0) }
    }

    /// Reads the whole file, from offset 0 to its end (which may lie past
    /// the size statx reported, as for files under /proc).
    public func readAll() async throws -> [UInt8] {
        let size = try await stat().size
        var chunk = File.readAllChunk(forSize: size)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(clamping: size))
        let buffer = FileBuffer(capacity: chunk)
        var offset: Int64 = 0
        while true {
            let n = try await read(into: buffer, count: chunk, at: offset)
            buffer.withUnsafeBytes { bytes.append(contentsOf: $0.prefix(n)) }
            if n < chunk { return bytes }
            offset += Int64(n)
            chunk = buffer.capacity
        }
    }

    /// `readAll()` for callback code.
    public func readAll() -> Future<[UInt8]> {
        eventLoop.makeFutureWithTask { try await self.readAll() }
    }

    /// Chunk for `readAll`: the whole file plus one byte (to see its end in
    /// one request) when small, rounded to whole pages so `O_DIRECT` works.
    static func readAllChunk(forSize size: Int64) -> Int {
        let page = FileBuffer.pageSize
        let wanted = min(max(Int(clamping: size) + 1, 64 << 10), 16 << 20)
        return (wanted + page - 1) / page * page
    }

    // MARK: Writing

    /// Writes `count` bytes (default: the buffer's capacity) from the start
    /// of `buffer` at `offset`, resubmitting after short writes.
    ///
    /// - Throws: `IOError("write", …)`: `.noSpace` when the disk is full,
    ///   `.fileTooLarge`, `.badFileDescriptor` for a read-only file…;
    ///   `CancellationError` (some bytes may have been written).
    public func write(_ buffer: FileBuffer, count: Int? = nil, at offset: Int64) async throws {
        _ = try await eventLoop.performRequest(transfer(.write, "write", [buffer], count: count, offset: offset))
    }

    /// `write(_:count:at:)` for callback code.
    public func write(_ buffer: FileBuffer, count: Int? = nil, at offset: Int64) -> Future<Void> {
        eventLoop.futureRequest(transfer(.write, "write", [buffer], count: count, offset: offset)).map { _ in }
    }

    /// Vectored write (writev): writes `buffers` in order, `count` bytes in
    /// all (default: their total capacity).
    public func write(_ buffers: [FileBuffer], count: Int? = nil, at offset: Int64) async throws {
        _ = try await eventLoop.performRequest(transfer(.write, "writev", buffers, count: count, offset: offset))
    }

    /// Vectored write for callback code.
    public func write(_ buffers: [FileBuffer], count: Int? = nil, at offset: Int64) -> Future<Void> {
        eventLoop.futureRequest(transfer(.write, "writev", buffers, count: count, offset: offset)).map { _ in }
    }

    /// Writes `bytes` at `offset` (copied once into an owned buffer, which
    /// the kernel may use after a cancelled caller has moved on).
    public func write(_ bytes: [UInt8], at offset: Int64) async throws {
        try await write(FileBuffer(bytes), at: offset)
    }

    /// `write(_:at:)` for callback code.
    public func write(_ bytes: [UInt8], at offset: Int64) -> Future<Void> {
        write(FileBuffer(bytes), at: offset)
    }

    // MARK: Machinery

    /// A starter for a whole-range transfer over `buffers` (loop thread).
    func transfer(
        _ direction: TransferRequest.Direction, _ name: String, _ buffers: [FileBuffer],
        count: Int?, offset: Int64
    ) -> RequestStarter<Int> {
        let capacity = buffers.reduce(0) { $0 + $1.capacity }
        let total = count ?? capacity
        var pieces: [TransferRequest.Segment] = []
        pieces.reserveCapacity(buffers.count)
        var left = max(total, 0)
        for buffer in buffers where left > 0 {
            let take = min(buffer.capacity, left)
            pieces.append(TransferRequest.Segment(buffer: buffer, start: 0, count: take))
            left -= take
        }
        let segments = pieces
        let valid = total >= 0 && total <= capacity && offset >= 0
        return { [self] done in
            guard valid else {
                done(.failure(IOError(name, .invalidArgument)))
                return nil
            }
            let target: FileTarget
            switch self.target(for: name) {
            case let .success(t): target = t
            case let .failure(error):
                done(.failure(error))
                return nil
            }
            guard total > 0 else {
                done(.success(0))
                return nil
            }
            let request = TransferRequest(
                loop: eventLoop, operation: name, direction: direction, target: target,
                segments: segments, offset: offset, completion: done
            )
            request.start()
            return request
        }
    }

    /// Turns a short read into `EndOfFileError`.
    private func exactly(_ start: @escaping RequestStarter<Int>, _ count: Int, _ offset: Int64) -> RequestStarter<Void> {
        { done in
            start { result in
                done(result.flatMap { n in
                    n < count ? .failure(EndOfFileError(offset: offset, requested: count, available: n)) : .success(())
                })
            }
        }
    }
}
