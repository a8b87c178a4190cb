import Foundation
import SystemPackage
@testable import RingLoop

/// A fresh directory under /tmp, removed with everything in it afterwards.
func withTemporaryDirectory<T>(_ body: (FilePath) async throws -> T) async throws -> T {
    var template = Array("/tmp/ringloop-file-test.XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw IOError("mkdtemp", Errno(rawValue: errno)) }
    let path = String(cString: made)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(FilePath(path))
}

/// `count` bytes of a deterministic pseudo-random pattern.
func patternBytes(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
    var state = seed | 1
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { raw in
        var i = 0
        while i < count {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            var word = state
            let n = min(8, count - i)
            withUnsafeBytes(of: &word) { raw.baseAddress!.advanced(by: i).copyMemory(from: $0.baseAddress!, byteCount: n) }
            i += n
        }
    }
    return bytes
}

/// Writes `bytes` to a new file synchronously (test setup, not under test).
func writeFileSynchronously(_ path: FilePath, _ bytes: [UInt8], permissions: FilePermissions = [.ownerReadWrite]) throws {
    let fd = try FileDescriptor.open(path, .writeOnly, options: [.create, .truncate], permissions: permissions)
    defer { try? fd.close() }
    _ = try fd.writeAll(bytes)
}

/// Reads a whole file synchronously (test checking, not under test).
func readFileSynchronously(_ path: FilePath) throws -> [UInt8] {
    try Array(Data(contentsOf: URL(fileURLWithPath: path.string)))
}

/// Sets the calling thread's file-system user ID (setfsuid(2) is per thread
/// on Linux) and returns the previous one. Used on a loop thread so that a
/// root test process meets real permission checks.
func setFileSystemUserID(_ uid: UInt32) -> UInt32 {
    typealias SetFSUID = @convention(c) (UInt32) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setfsuid") else { return UInt32.max }
    let call = unsafeBitCast(symbol, to: SetFSUID.self)
    return UInt32(bitPattern: call(uid))
}

/// A weak reference readable from any thread.
final class WeakBox<T: AnyObject>: @unchecked Sendable {
    // Safe to share: every access goes through `lock`.
    private let lock = NSLock()
    private weak var object: T?
    init(_ object: T? = nil) { self.object = object }
    var value: T? {
        get { lock.lock(); defer { lock.unlock() }; return object }
        set { lock.lock(); defer { lock.unlock() }; object = newValue }
    }
}
