import SystemPackage

/// A failed I/O operation: the kernel's `Errno` plus the name of the operation
/// that got it (`"connect"`, `"read"`, `"openat"`…).
///
/// Match on `errno` to handle a specific condition:
/// ```swift
/// do { try await conn.write(bytes) }
/// catch let e as IOError where e.errno == .connectionReset { … }
/// ```
public struct IOError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What the kernel answered.
    public var errno: Errno
    /// The operation that failed.
    public var operation: String

    public init(_ operation: String, _ errno: Errno) {
        self.operation = operation
        self.errno = errno
    }

    /// An error from a negative io_uring result (`-errno`).
    @inlinable
    package init(_ operation: String, result: Int32) {
        self.init(operation, Errno(rawValue: -result))
    }

    public var description: String { "\(operation) failed: \(errno) (\(errno.rawValue))" }
}
