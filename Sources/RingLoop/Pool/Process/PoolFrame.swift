#if canImport(Glibc)
import Glibc
#endif

/// The messages between a `ProcessPool` and a worker, each one frame: a
/// 4-byte little-endian length, then that many bytes: a kind byte and its
/// body.
///
/// - request (parent → worker): kind 1, a 2-byte name length, the job's
///   name in UTF-8, the encoded input.
/// - reply (worker → parent): kind 2 and the encoded output, or kind 3 and
///   the error's description in UTF-8.
enum PoolFrame {
    static let request: UInt8 = 1
    static let success: UInt8 = 2
    static let failure: UInt8 = 3
    /// The largest frame either side accepts (a peer sending more is broken).
    static let maxLength = 1 << 30

    static func frame(kind: UInt8, _ parts: [UInt8]...) -> [UInt8] {
        let length = 1 + parts.reduce(0) { $0 + $1.count }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4 + length)
        withUnsafeBytes(of: UInt32(length).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(kind)
        for part in parts { bytes.append(contentsOf: part) }
        return bytes
    }

    static func request(job: String, input: [UInt8]) -> [UInt8] {
        let name = Array(job.utf8)
        return frame(kind: request, [UInt8(truncatingIfNeeded: name.count), UInt8(truncatingIfNeeded: name.count >> 8)], name, input)
    }

    /// Splits a request body (after the kind byte) into name and input.
    static func parseRequest(_ body: ArraySlice<UInt8>) -> (name: String, input: [UInt8])? {
        guard body.count >= 2 else { return nil }
        let start = body.startIndex
        let nameLength = Int(body[start]) | Int(body[start + 1]) << 8
        guard body.count >= 2 + nameLength else { return nil }
        let name = String(decoding: body[(start + 2)..<(start + 2 + nameLength)], as: UTF8.self)
        return (name, Array(body[(start + 2 + nameLength)...]))
    }

    /// The length in a 4-byte header.
    static func length(_ header: some Collection<UInt8>) -> Int {
        var value = 0
        for (shift, byte) in header.prefix(4).enumerated() { value |= Int(byte) << (8 * shift) }
        return value
    }

    // MARK: Blocking I/O (the worker's side: one job at a time, no loop)

    /// Reads one frame's body from `fd`; nil at end of stream (the pool
    /// closed its end) or on error.
    static func readBlocking(_ fd: Int32) -> [UInt8]? {
        guard let header = readExactly(fd, 4) else { return nil }
        let length = length(header)
        guard length >= 1, length <= maxLength else { return nil }
        return readExactly(fd, length)
    }

    private static func readExactly(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            done += n
        }
        return bytes
    }

    /// Writes all of `bytes` to `fd`; false on error.
    static func writeBlocking(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }
}
