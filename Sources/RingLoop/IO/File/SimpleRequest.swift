/// A file operation with no memory for the kernel to touch: fsync, fdatasync,
/// fallocate, ftruncate, close. Its result is the CQE's (0 on success).
final class SimpleRequest: FileRequest {
    enum Kind {
        case sync(dataOnly: Bool)
        case allocate(mode: Int32, offset: Int64, length: Int64)
        case truncate(length: Int64)
        case close
    }

    private let kind: Kind
    private let target: FileTarget

    init(loop: EventLoop, kind: Kind, target: FileTarget, completion: @escaping (Result<Int, any Error>) -> Void) {
        self.kind = kind
        self.target = target
        let name: String
        switch kind {
        case let .sync(dataOnly): name = dataOnly ? "fdatasync" : "fsync"
        case .allocate: name = "fallocate"
        case .truncate: name = "ftruncate"
        case .close: name = "close"
        }
        super.init(loop: loop, operation: name, owner: target.owner, completion: completion)
    }

    override var retriesInterrupted: Bool {
        if case .close = kind { return false }
        return true
    }

    override func nextOperation() -> (IOOperation, IOOperation.Options) {
        let options: IOOperation.Options = target.isFixed ? .fixedFile : []
        switch kind {
        case let .sync(dataOnly): return (.fsync(fd: target.fd, dataOnly: dataOnly), options)
        case let .allocate(mode, offset, length): return (.fallocate(fd: target.fd, mode: mode, offset: offset, length: length), options)
        case let .truncate(length): return (.ftruncate(fd: target.fd, length: length), options)
        case .close:
            // Close takes a plain descriptor; a registered slot is emptied
            // before this is submitted.
            return (.close(fd: target.fd), [])
        }
    }
}
