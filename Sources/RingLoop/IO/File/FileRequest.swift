import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// One file operation in flight: submits its SQE, resubmits what is left
/// after a short transfer or an `EINTR`, and reports exactly once.
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
    private var current: OperationID?
    private var completion: ((Result<Int, any Error>) -> Void)?
    private(set) var isCancelled = false

    init(loop: EventLoop, operation: String, completion: @escaping (Result<Int, any Error>) -> Void) {
        self.loop = loop
        self.operation = operation
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

    /// Submits the first SQE; failures (a closing loop) are reported through
    /// the completion, never thrown.
    final func start() {
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
        case .failure(.interrupted):
            submit()
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
                submit()
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
