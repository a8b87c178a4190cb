import SystemPackage

/// Reads and writes with a deadline: each stops like a cancelled one when
/// its deadline passes and throws `RingLoopError.timedOut(operation:)`
/// (naming `read` or `write`). The buffer stays owned until the kernel's
/// final completion; a read's buffer contents are then unspecified, and a
/// write may have written some bytes (as a cancelled one may).
///
/// Regular files rarely block for long; deadlines matter for descriptors
/// that can wait indefinitely (FIFOs, character devices, network mounts).
///
/// The `Future` forms stop the request the same way when their deadline
/// passes: the future fails with `.timedOut` and the loop's timer is gone.
extension File {
    /// `read(into:count:at:)`, waiting until `deadline` at most.
    public func read(into buffer: FileBuffer, count: Int? = nil, at offset: Int64, deadline: Deadline) async throws -> Int {
        try await eventLoop.performRequest(
            deadline: deadline, operation: "read", transfer(.read, "read", [buffer], count: count, offset: offset))
    }

    /// `read(into:count:at:)`, waiting at most `timeout`.
    public func read(into buffer: FileBuffer, count: Int? = nil, at offset: Int64, timeout: Duration) async throws -> Int {
        try await read(into: buffer, count: count, at: offset, deadline: .now() + timeout)
    }

    /// `read(count:at:)`, waiting until `deadline` at most.
    public func read(count: Int, at offset: Int64, deadline: Deadline) async throws -> [UInt8] {
        let buffer = FileBuffer(capacity: max(count, 0))
        let n = try await read(into: buffer, count: count, at: offset, deadline: deadline)
        return buffer.bytes(0..<n)
    }

    /// `read(count:at:)`, waiting at most `timeout`.
    public func read(count: Int, at offset: Int64, timeout: Duration) async throws -> [UInt8] {
        try await read(count: count, at: offset, deadline: .now() + timeout)
    }

    /// `write(_:count:at:)`, finishing by `deadline` at most.
    public func write(_ buffer: FileBuffer, count: Int? = nil, at offset: Int64, deadline: Deadline) async throws {
        _ = try await eventLoop.performRequest(
            deadline: deadline, operation: "write", transfer(.write, "write", [buffer], count: count, offset: offset))
    }

    /// `write(_:count:at:)`, taking at most `timeout`.
    public func write(_ buffer: FileBuffer, count: Int? = nil, at offset: Int64, timeout: Duration) async throws {
        try await write(buffer, count: count, at: offset, deadline: .now() + timeout)
    }

    /// `write(_:at:)` for bytes, finishing by `deadline` at most.
    public func write(_ bytes: [UInt8], at offset: Int64, deadline: Deadline) async throws {
        try await write(FileBuffer(bytes), at: offset, deadline: deadline)
    }

    /// `write(_:at:)` for bytes, taking at most `timeout`.
    public func write(_ bytes: [UInt8], at offset: Int64, timeout: Duration) async throws {
        try await write(bytes, at: offset, deadline: .now() + timeout)
    }

    // MARK: Callback forms

    /// `read(into:count:at:deadline:)` for callback code: the request is
    /// stopped when `deadline` passes and the future fails with
    /// `RingLoopError.timedOut(operation: "read")`.
    public func read(into buffer: FileBuffer, count: Int? = nil, at offset: Int64, deadline: Deadline) -> Future<Int> {
        eventLoop.futureRequest(
            deadline: deadline, operation: "read", transfer(.read, "read", [buffer], count: count, offset: offset))
    }

    /// `read(into:count:at:deadline:)` for callback code, waiting at most `timeout`.
    public func read(into buffer: FileBuffer, count: Int? = nil, at offset: Int64, timeout: Duration) -> Future<Int> {
        read(into: buffer, count: count, at: offset, deadline: .now() + timeout)
    }

    /// `read(count:at:deadline:)` for callback code.
    public func read(count: Int, at offset: Int64, deadline: Deadline) -> Future<[UInt8]> {
        let buffer = FileBuffer(capacity: max(count, 0))
        return read(into: buffer, count: count, at: offset, deadline: deadline).map { buffer.bytes(0..<$0) }
    }

    /// `read(count:at:deadline:)` for callback code, waiting at most `timeout`.
    public func read(count: Int, at offset: Int64, timeout: Duration) -> Future<[UInt8]> {
        read(count: count, at: offset, deadline: .now() + timeout)
    }

    /// `write(_:count:at:deadline:)` for callback code: the request is
    /// stopped when `deadline` passes and the future fails with
    /// `RingLoopError.timedOut(operation: "write")`.
    public func write(_ buffer: FileBuffer, count: Int? = nil, at offset: Int64, deadline: Deadline) -> Future<Void> {
        eventLoop.futureRequest(
            deadline: deadline, operation: "write", transfer(.write, "write", [buffer], count: count, offset: offset)
        ).map { _ in }
    }

    /// `write(_:count:at:deadline:)` for callback code, taking at most `timeout`.
    public func write(_ buffer: FileBuffer, count: Int? = nil, at offset: Int64, timeout: Duration) -> Future<Void> {
        write(buffer, count: count, at: offset, deadline: .now() + timeout)
    }

    /// `write(_:at:deadline:)` for bytes, for callback code.
    public func write(_ bytes: [UInt8], at offset: Int64, deadline: Deadline) -> Future<Void> {
        write(FileBuffer(bytes), at: offset, deadline: deadline)
    }

    /// `write(_:at:deadline:)` for bytes, for callback code, taking at most `timeout`.
    public func write(_ bytes: [UInt8], at offset: Int64, timeout: Duration) -> Future<Void> {
        write(bytes, at: offset, deadline: .now() + timeout)
    }
}
