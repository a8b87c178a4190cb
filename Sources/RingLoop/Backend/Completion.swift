import SystemPackage

/// One completion of an I/O operation, as the backend reports it to the
/// operation's `CompletionHandler`: the outcome already decoded, so no I/O
/// type reads CQE flags or negative errnos.
///
/// Whether a cancelled operation was cancelled by its owner (`.cancelled`)
/// or because the loop is closing (`.shutDown`) is decided once, by the
/// backend (see `IOBackend.beginShutdown()`).
package struct Completion {
    /// How an operation ended (or, for a multishot operation, how one of its
    /// completions went).
    package enum Outcome: Equatable {
        /// The kernel's non-negative result: bytes transferred, a new
        /// descriptor, or 0.
        case success(Int32)
        /// The kernel's error.
        case failure(Errno)
        /// Cancelled at its owner's request (`EventLoop.cancelOperation`,
        /// `cancelOperations(fd:)`), or a linked operation whose predecessor
        /// failed.
        case cancelled
        /// Cancelled because the loop is shutting down.
        case shutDown
    }

    /// How the operation went.
    package var outcome: Outcome
    /// True when this completion is not the operation's last: a multishot
    /// operation stays armed and its handler will hear from it again. When
    /// false, the operation's record has been released.
    package var hasMore: Bool
    /// The provided buffer the kernel filled (receives with a buffer group);
    /// its owner must recycle it.
    package var bufferID: UInt16?

    @inlinable
    package init(_ outcome: Outcome, hasMore: Bool = false, bufferID: UInt16? = nil) {
        self.outcome = outcome
        self.hasMore = hasMore
        self.bufferID = bufferID
    }

    /// The success value, or nil.
    @inlinable
    package var value: Int32? {
        if case let .success(value) = outcome { return value }
        return nil
    }
}

/// Receives the completions of the operations it submitted. Called on the loop
/// thread only.
///
/// A long-lived object (a connection, a file) implements this once and tells
/// its operations apart by `context`, so submitting an operation allocates
/// nothing. One-off operations can use `ClosureCompletion`.
package protocol CompletionHandler: AnyObject {
    /// One completion of an operation submitted with this handler. The
    /// operation's record is already released when this runs unless
    /// `completion.hasMore`.
    func completed(_ completion: Completion, context: UInt64)
}

/// Wraps a closure as a `CompletionHandler`, for one-off operations.
package final class ClosureCompletion: CompletionHandler {
    private let body: (Completion) -> Void
    package init(_ body: @escaping (Completion) -> Void) { self.body = body }
    package func completed(_ completion: Completion, context: UInt64) { body(completion) }
}

/// Identifies one in-flight operation (for io_uring: its `user_data`, slot
/// index + generation). Stale identifiers (the operation already finished)
/// are recognised and ignored.
package struct OperationID: Hashable, Sendable {
    package let userData: UInt64
    package init(userData: UInt64) { self.userData = userData }
}
