import DequeModule

/// What the reactor hands back for an operation: the io_uring CQE's facts,
/// typed. `result` is the syscall's answer (negative errno on failure);
/// `hasMore` says the operation stays armed (multishot); `bufferID` names the
/// pool buffer a receive filled, now lent to the receiver.
struct ReactorCompletion: Equatable {
    let userData: UInt64
    let result: Int32
    let hasMore: Bool
    let bufferID: UInt16?
}

/// One operation the reactor has accepted and not finished. Loop thread only.
final class PendingOperation {
    let userData: UInt64
    let operation: ReactorOperation
    /// The first attempt has run its one-time setup (non-blocking mode,
    /// `connect(2)` issued, the fd's blocking mode read), or, for a blocking
    /// call or a close behind blocking calls, it was queued on the pool.
    var started = false
    /// The fd is in blocking mode: readiness is checked with `poll(2)` before
    /// the syscall, so the loop thread never blocks.
    var fdIsBlocking = false
    /// `RWF_NOWAIT` was refused for this fd (see `blockingStreamWrite`).
    var noWaitUnsupported = false
    /// Finished or cancelled: no further completion may be posted.
    var finished = false

    init(userData: UInt64, operation: ReactorOperation) {
        self.userData = userData
        self.operation = operation
    }
}

/// The operations waiting on one fd: a FIFO per side (so writes, and reads,
/// happen in submission order) and the polls, which all look at every event.
final class FDWaiters {
    var readers: Deque<PendingOperation> = []
    var writers: Deque<PendingOperation> = []
    var polls: [PendingOperation] = []
    /// Registered (or re-registered) with epoll since this record was made.
    var armed = false

    var isEmpty: Bool { readers.isEmpty && writers.isEmpty && polls.isEmpty }

    func remove(_ op: PendingOperation) {
        readers.removeAll { $0 === op }
        writers.removeAll { $0 === op }
        polls.removeAll { $0 === op }
    }

    var all: [PendingOperation] { Array(readers) + Array(writers) + polls }
}

/// How one non-blocking attempt went.
enum Attempt {
    /// The operation is over; this is its final completion.
    case done(Int32, bufferID: UInt16? = nil)
    /// A completion of a multishot operation, which stays armed.
    case more(Int32, bufferID: UInt16? = nil)
    /// Nothing to do until the fd is ready.
    case wouldBlock
}
