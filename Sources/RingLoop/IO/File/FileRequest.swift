import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// One file operation in flight: submits its SQE, resubmits what is left
/// after a short transfer or an `EINTR`, and reports exactly once.
///
/// A resubmission names the descriptor (or registered slot) captured at the
/// start, so it first checks the owning `File`: once that has closed, the
/// number may already belong to a file opened since, and the request stops
/// with `stoppedByClose()` instead of touching it again.
///
/// Subclasses own everything the kernel may touch (buffers, iovecs, paths,
/// the statx buffer). The operation table keeps the request, and so that
/// memory, until the final CQE of its last submission, even when the caller
/// has already been answered because it cancelled.
///
/// Loop thread only.
class FileRequest: CompletionHandler, LoopCancellable {
    let loop: EventLoop
    /// The name the errors carry (`"read"`, `"openat"`…).
    let operation: String
    /// The file whose descriptor the request names, checked before every
    /// resubmission; nil when there is none to check (closing itself).
    private let owner: File?
    private var current: OperationID?
    private var completion: ((Result<Int, any Error>) -> Void)?
    private(set) var isCancelled = false

    init(loop: EventLoop, operation: String, owner: File? = nil, completion: @escaping (Result<Int, any Error>) -> Void) {
        self.loop = loop
        self.operation = operation
        self.owner = owner
        self.completion = completion
    }

    /// The next submission's operation and options. Subclasses override.
    func nextOperation() -> (IOOperation, IOOperation.Options) {
        (.nop, [])
    }

    /// Takes a non-negative result: returns the final value, or nil to submit
    /// again (the rest of a short transfer). Subclasses override.
    func handle(result: Int32) -> Result<Int, any Error>? {
        .success(Int(result))
    }

    /// The answer when the owning file closed before a resubmission: by
    /// default `IOError(operation, .badFileDescriptor)`, as for an operation
    /// started after the close. Subclasses override to report progress.
    func stoppedByClose() -> Result<Int, any Error> {
        .failure(IOError(operation, .badFileDescriptor))
    }

    /// Whether an `EINTR` result is retried by resubmitting (close(2) must
    /// not be: the descriptor is released even when it reports `EINTR`).
    var retriesInterrupted: Bool { true }

    /// Submits the first SQE; failures (a closing loop) are reported through
    /// the completion, never thrown.
    final func start() {
        submit()
    }

    /// Submits the rest, unless the owning file has closed meanwhile.
    private func resubmit() {
        if let owner, owner.isClosed {
            finish(stoppedByClose())
            return
        }
        submit()
    }

    private func submit() {
        do {
            let (operation, options) = nextOperation()
            current = try loop.submitOperation(operation, options: options, handler: self)
        } catch {
            finish(.failure(error))
        }
    }

    final func completed(_ completion: Completion, context: UInt64) {
        current = nil
        guard !isCancelled else { return }
        switch completion.outcome {
        case .failure(.interrupted) where retriesInterrupted:
            resubmit()
        case .shutDown:
            finish(.failure(RingLoopError.shutDown))
        case .cancelled:
            finish(.failure(IOError(operation, .canceled)))
        case let .failure(errno):
            finish(.failure(IOError(operation, errno)))
        case let .success(result):
            if let outcome = handle(result: result) {
                finish(outcome)
            } else {
                resubmit()
            }
        }
    }

    final func cancel() {
        guard completion != nil else { return }
        isCancelled = true
        if let current { loop.cancelOperation(current) }
        finish(.failure(CancellationError()))
    }

    /// Answers the caller, once.
    final func finish(_ outcome: Result<Int, any Error>) {
        guard let completion else { return }
        self.completion = nil
        completion(outcome)
    }
}
