#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// A loop's one signalfd, shared by every subscription on that loop: its
/// mask is the union of what the subscribers want, its readiness is a
/// multishot poll on the ring, and each signal read from it goes to every
/// subscriber that asked for it. (Two signalfds for one signal would split
/// its deliveries between them.)
///
/// The descriptor is read with read(2) on the loop thread once the poll says
/// it is readable, so the loop thread's own pending signals (sent with
/// `tgkill`) are read as well as the process's.
///
/// Loop thread only.
final class SignalHub: LoopAttachment, CompletionHandler {
    struct Subscriber {
        let signals: Set<Int32>
        /// Removed after its first signal.
        let once: Bool
        let deliver: (Signal) -> Void
        /// The loop is shutting down: no more signals will come.
        let end: () -> Void
    }

    private let loop: EventLoop
    private var fd: Int32 = -1
    private var polling = false
    private var poll: OperationID?
    private var subscribers: [Int: Subscriber] = [:]
    private var nextID = 0
    /// Room for 16 `signalfd_siginfo` records of 128 bytes; the hub is kept
    /// alive by the operation table while its poll is armed (read(2) is
    /// synchronous, so the kernel never holds this buffer).
    private let records = UnsafeMutableRawPointer.allocate(byteCount: 128 * 16, alignment: 8)

    init(loop: EventLoop) { self.loop = loop }

    deinit {
        records.deallocate()
        if fd >= 0 { _ = close(fd) }
    }

    static func on(_ loop: EventLoop) -> SignalHub? {
        loop.attachment(SignalHub.self) { SignalHub(loop: $0) }
    }

    /// Adds a subscriber; returns its id.
    func subscribe(_ subscriber: Subscriber) throws(IOError) -> Int {
        nextID += 1
        subscribers[nextID] = subscriber
        do {
            try updateMask()
        } catch {
            subscribers[nextID] = nil
            throw error
        }
        if !polling { arm() }
        return nextID
    }

    func unsubscribe(_ id: Int) {
        guard subscribers.removeValue(forKey: id) != nil else { return }
        try? updateMask()
        if subscribers.isEmpty, let poll { loop.cancelOperation(poll) }
    }

    private func updateMask() throws(IOError) {
        var mask = sigset_t()
        sigemptyset(&mask)
        for subscriber in subscribers.values { for signal in subscriber.signals { sigaddset(&mask, signal) } }
        let rc = ProcessCalls.signalfd(fd, &mask)
        guard rc >= 0 else { throw IOError("signalfd", Errno(rawValue: errno)) }
        fd = rc
    }

    private func arm() {
        do {
            poll = try loop.submitOperation(.poll(fd: fd, events: UInt32(POLLIN), multishot: true), handler: self)
            polling = true
        } catch {
            endAll()
        }
    }

    func completed(_ completion: Completion, context: UInt64) {
        if case .success = completion.outcome { drain() }
        guard !completion.hasMore else { return }
        polling = false
        poll = nil
        switch completion.outcome {
        case .shutDown:
            endAll()
        case .failure where !subscribers.isEmpty:
            // The poll cannot fail on our own signalfd; don't spin on it.
            endAll()
        default:
            // A multishot poll may end on its own: re-arm while wanted.
            if subscribers.isEmpty {
                closeDescriptor()
            } else {
                arm()
            }
        }
    }

    /// Reads every pending signal and hands each to its subscribers.
    private func drain() {
        while true {
            let n = read(fd, records, 128 * 16)
            guard n >= 128 else { return }   // EAGAIN: nothing (more) pending
            for index in 0..<(n / 128) {
                let number = Int32(bitPattern: records.load(fromByteOffset: index * 128, as: UInt32.self))
                let signal = Signal(rawValue: number)
                for (id, subscriber) in subscribers.sorted(by: { $0.key < $1.key }) where subscriber.signals.contains(number) {
                    if subscriber.once { unsubscribe(id) }
                    subscriber.deliver(signal)
                }
            }
        }
    }

    private func endAll() {
        let ending = subscribers.values
        subscribers.removeAll()
        for subscriber in ending { subscriber.end() }
        if !polling { closeDescriptor() }
    }

    private func closeDescriptor() {
        if fd >= 0 { _ = close(fd) }
        fd = -1
    }

    func loopWillClose(_ loop: EventLoop) {
        endAll()
        closeDescriptor()
    }
}
