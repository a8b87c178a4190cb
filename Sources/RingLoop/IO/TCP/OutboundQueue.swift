/// The send side of a stream connection as a value: the writes queued in
/// order, which of them the in-flight send covers, how many bytes are unsent
/// (and so whether the connection is writable), and the state of the output
/// (open, shutting down, shut down, broken).
///
/// It decides; it never calls out. Every mutating step that finishes writes
/// returns their `Outcome`s, and the owner delivers them after the step, so a
/// completion that writes again re-enters a queue in a consistent state.
/// `Completion` is whatever the owner resumes (a future, a waiter; a plain
/// value in tests). A write of several buffers puts its completion on every
/// entry, with `last` on the final one: any failure reports it (the owner's
/// completion ignores all but the first outcome), success needs the last.
///
/// Cancellation: a cancelled write the kernel has not been handed is
/// dropped and fails with `CancellationError` (nothing of it was sent). One
/// the in-flight send covers is only marked; when that send completes, the
/// write succeeds if the kernel took all of it, fails with
/// `PartialWriteError` (and breaks the output) if it took part of it, and
/// with `CancellationError` if it took none.
struct OutboundQueue<Completion> {
    /// What an entry sends (declared outside the generic type, so that
    /// matching on it needs no generic value-witness calls).
    typealias Payload = OutboundPayload

    struct Entry {
        var payload: Payload
        /// `.bytes`: offset of the first unsent byte; `.staged`: its offset in
        /// the staging buffer.
        var start: Int
        /// Bytes not yet sent.
        var count: Int
        var completion: Completion?
        /// The final entry of its write: success is reported here.
        var last: Bool
        /// Bytes of its write sent before this entry's unsent bytes.
        var sentBefore: Int
        var partlySent = false
        /// The caller cancelled while the in-flight send covered its write:
        /// resolved when that send completes.
        var cancelled = false
    }

    /// A write that finished, and how.
    struct Outcome {
        var completion: Completion
        var result: Result<Void, any Error>
    }

    enum Output {
        case open
        case shutdownQueued
        case shutDown
        case failed(any Error)
    }

    /// Where the kernel's shutdown answer leaves the output.
    enum ShutdownResult {
        case done
        case failed(any Error)
        case cancelled
    }

    let highWatermark: Int
    let lowWatermark: Int
    private(set) var entries = HeadInlineDeque<Entry>()
    /// Unsent bytes in `entries`.
    private(set) var queuedBytes = 0
    private(set) var output = Output.open
    private(set) var isWritable = true
    /// Entries of `.staged` payload in the queue.
    private(set) var stagedEntries = 0
    /// Entries the in-flight send covers; nil when no send is in flight.
    private(set) var sendCoverage: Int?
    /// The last entry is a staged one that ends where the staging buffer ends,
    /// so more staged bytes extend it instead of adding an entry.
    private var tailIsStaged = false

    init(highWatermark: Int, lowWatermark: Int) {
        self.highWatermark = highWatermark
        self.lowWatermark = lowWatermark
    }

    var isEmpty: Bool { entries.isEmpty }
    var isSending: Bool { sendCoverage != nil }
    /// Every queued entry is staged bytes (none has a completion, so none can
    /// be cancelled): the `write(copying:)` fast paths apply.
    var holdsOnlyStaged: Bool { stagedEntries == entries.count }

    /// The staging offset and count of the unsent bytes when the queue is
    /// exactly one staged entry (the usual state of a handler's echo).
    var soleStagedEntry: (start: Int, count: Int)? {
        guard stagedEntries == 1, entries.count == 1 else { return nil }
        let head = entries[0]
        return (head.start, head.count)
    }

    /// Why a new write cannot be queued (nil: it can).
    var refusal: (any Error)? {
        switch output {
        case .open: return nil
        case .shutdownQueued, .shutDown: return IOError("send", .brokenPipe)
        case let .failed(error): return error
        }
    }

    // MARK: Queueing

    /// Queues a write; returns its outcome when it is decided at once (the
    /// output refuses it, or it is empty).
    /// `writeOffset`: bytes of the same write queued before this entry.
    mutating func enqueue(_ payload: Payload, count: Int, completion: Completion?, last: Bool = true, writeOffset: Int = 0) -> Outcome? {
        if let error = refusal {
            return completion.map { Outcome(completion: $0, result: .failure(error)) }
        }
        if count == 0, case .bytes = payload {
            return last ? completion.map { Outcome(completion: $0, result: .success(())) } : nil
        }
        if case .shutdown = payload { output = .shutdownQueued }
        entries.append(Entry(payload: payload, start: 0, count: count, completion: completion, last: last, sentBefore: writeOffset))
        tailIsStaged = false
        queuedBytes += count
        return nil
    }

    /// Queues `count` bytes just copied to `offset` of the staging buffer
    /// (the caller checked `refusal`); extends the last entry when it is
    /// staged bytes ending there.
    mutating func enqueueStaged(offset: Int, count: Int) {
        if tailIsStaged, !entries.isEmpty {
            entries[entries.count - 1].count += count
        } else {
            entries.append(Entry(payload: .staged, start: offset, count: count, completion: nil, last: true, sentBefore: 0))
            stagedEntries += 1
            tailIsStaged = true
        }
        queuedBytes += count
    }

    /// Queues `count` bytes at `base` lent to the send about to start (the
    /// caller checked `refusal`, and that the queue is empty).
    mutating func enqueueLent(_ base: UnsafeRawPointer, count: Int) {
        entries.append(Entry(payload: .lent(base), start: 0, count: count, completion: nil, last: true, sentBefore: 0))
        tailIsStaged = false
        queuedBytes += count
    }

    /// The unsent bytes of a lent head entry now sit at `offset` of the
    /// staging buffer, in front of every other staged byte.
    mutating func restageHead(at offset: Int) {
        guard case .lent = entries.first?.payload else { return }
        entries[0].payload = .staged
        entries[0].start = offset
        stagedEntries += 1
        if entries.count == 1 { tailIsStaged = true }
    }

    /// Re-evaluates writability against the watermarks; true when it changed.
    mutating func updateWritability() -> Bool {
        if isWritable, queuedBytes > highWatermark {
            isWritable = false
            return true
        }
        if !isWritable, queuedBytes <= lowWatermark {
            isWritable = true
            return true
        }
        return false
    }

    // MARK: Sending

    /// Whether a send should start now.
    var canStartSend: Bool {
        guard sendCoverage == nil, !entries.isEmpty else { return false }
        if case .failed = output { return false }
        return true
    }

    /// A send covering the first `entries` entries was submitted.
    mutating func sendStarted(covering count: Int) {
        sendCoverage = count
    }

    /// The in-flight send (or its submission) ended: nothing is in flight.
    /// The owner calls it first thing on every send completion.
    mutating func sendEnded() {
        sendCoverage = nil
    }

    /// The in-flight send took `sent` bytes: whole writes at the head finish,
    /// then the cancelled writes it covered are resolved.
    mutating func sendCompleted(sent: Int) -> (outcomes: [Outcome], untracked: Bool) {
        var outcomes: [Outcome] = []
        let untracked = sendCompleted(sent: sent, into: &outcomes)
        return (outcomes, untracked)
    }

    /// `sendCompleted(sent:)` appending to `outcomes`, so that the owner can
    /// reuse one array and a completed send allocates nothing. Returns
    /// whether a write without a completion was lost (see `fail`).
    mutating func sendCompleted(sent: Int, into outcomes: inout [Outcome]) -> Bool {
        sendCoverage = nil
        var left = sent
        // The head is read in place and moved out once sent: copying an
        // entry costs value-witness calls.
        while left > 0, !entries.isEmpty {
            let count = entries.withFirst { head -> Int in
                if case .shutdown = head.payload { return -1 }
                return head.count
            }
            if count < 0 { break }
            if left >= count {
                left -= count
                queuedBytes -= count
                let head = entries.removeFirst()
                if entries.isEmpty { tailIsStaged = false }
                if case .staged = head.payload { stagedEntries -= 1 }
                if head.last, let completion = head.completion {
                    outcomes.append(Outcome(completion: completion, result: .success(())))
                }
            } else {
                entries[0].start += left
                entries[0].count -= left
                entries[0].sentBefore += left
                entries[0].partlySent = true
                queuedBytes -= left
                left = 0
            }
        }
        guard !holdsOnlyStaged, hasCancelled else { return false }
        let resolved = resolveCancelled()
        outcomes += resolved.outcomes
        return resolved.untracked
    }

    /// The in-flight send ended without sending anything (cancelled,
    /// `-EAGAIN`): the cancelled writes it covered are resolved.
    mutating func sendEndedUnsent() -> (outcomes: [Outcome], untracked: Bool) {
        sendCoverage = nil
        guard hasCancelled else { return ([], false) }
        return resolveCancelled()
    }

    private var hasCancelled: Bool { entries.contains(where: \.cancelled) }

    /// Settles every cancelled write (no send is in flight): one with bytes
    /// sent fails with `PartialWriteError` and breaks the output; one without is
    /// dropped and fails with `CancellationError`.
    /// `start`: the first entry the in-flight send does not cover.
    private mutating func resolveCancelled(from start: Int = 0) -> (outcomes: [Outcome], untracked: Bool) {
        var outcomes: [Outcome] = []
        var index = start
        while index < entries.count {
            guard entries[index].cancelled else {
                index += 1
                continue
            }
            let first = entries[index]
            var end = index
            while !entries[end].last, end + 1 < entries.count, entries[end + 1].cancelled { end += 1 }
            var unsent = 0
            for _ in index...end {
                unsent += entries[index].count
                remove(at: index)
            }
            if first.sentBefore > 0 {
                if let completion = first.completion {
                    let error = PartialWriteError(written: first.sentBefore, requested: first.sentBefore + unsent, reason: CancellationError())
                    outcomes.append(Outcome(completion: completion, result: .failure(error)))
                }
                let broken = fail(RingLoopError.writeCancelledMidway(operation: "send"))
                return (outcomes + broken.outcomes, broken.untracked)
            }
            if let completion = first.completion {
                outcomes.append(Outcome(completion: completion, result: .failure(CancellationError())))
            }
        }
        return (outcomes, false)
    }

    /// The in-flight shutdown answered. `open`: the connection is not closing.
    mutating func shutdownCompleted(_ result: ShutdownResult, open: Bool) -> [Outcome] {
        sendCoverage = nil
        guard case .shutdown = entries.first?.payload else { return [] }
        let entry = entries.removeFirst()
        let report: Result<Void, any Error>?
        switch result {
        case .done:
            output = .shutDown
            report = .success(())
        case let .failed(error):
            output = .shutDown
            report = .failure(error)
        case .cancelled where !open:
            report = .failure(RingLoopError.closed(operation: "shutdownOutput"))
        case .cancelled where entry.cancelled:
            output = .open
            report = .failure(CancellationError())
        case .cancelled:
            entries.prepend(entry)
            report = nil
        }
        guard let report, let completion = entry.completion else { return [] }
        return [Outcome(completion: completion, result: report)]
    }

    // MARK: Cancelling and failing

    /// What cancelling a write did.
    struct Cancellation {
        /// Whether any entry belonged to the write.
        var found = false
        /// The in-flight send covers part of the write: cancel it; the write
        /// is resolved when the send completes.
        var cancelSend = false
        /// Outcomes decided now: the cancelled write's own, and those of
        /// writes failed because the output broke.
        var outcomes: [Outcome] = []
        /// A write without a completion was lost to the break (see `fail`).
        var untracked = false
    }

    /// The caller of the write whose entries match gave up. A write the
    /// kernel has not been handed is settled now (see the type's notes); one
    /// the in-flight send covers is marked, and settled when the send completes.
    mutating func cancel(where matches: (Completion) -> Bool) -> Cancellation {
        var result = Cancellation()
        var covered = false
        var inFlight = sendCoverage ?? 0
        if case .shutdown = entries.first?.payload, inFlight > 0 { inFlight = 1 }
        for index in entries.indices {
            guard let completion = entries[index].completion, matches(completion) else { continue }
            result.found = true
            entries[index].cancelled = true
            if index < inFlight { covered = true }
        }
        guard result.found else { return result }
        if covered {
            result.cancelSend = true
        } else {
            (result.outcomes, result.untracked) = resolveCancelled(from: inFlight)
        }
        return result
    }

    /// The output can no longer be used: every queued write fails with
    /// `error`, and so does every later one. `untracked`: a write without a
    /// completion (staged bytes) was lost, which only the handler can learn.
    mutating func fail(_ error: any Error) -> (outcomes: [Outcome], untracked: Bool) {
        if case .failed = output {} else { output = .failed(error) }
        return failAll(error)
    }

    /// Fails every queued write with `error` (the connection closed); see `fail`.
    mutating func failAll(_ error: any Error) -> (outcomes: [Outcome], untracked: Bool) {
        var outcomes: [Outcome] = []
        var untracked = false
        while let entry = entries.popFirst() {
            if let completion = entry.completion {
                outcomes.append(Outcome(completion: completion, result: .failure(error)))
            } else {
                untracked = true
            }
        }
        queuedBytes = 0
        stagedEntries = 0
        tailIsStaged = false
        return (outcomes, untracked)
    }

    private mutating func remove(at index: Int) {
        let removed = entries.remove(at: index)
        queuedBytes -= removed.count
        if case .staged = removed.payload { stagedEntries -= 1 }
        if case .shutdown = removed.payload { output = .open }
        if index == entries.count { tailIsStaged = false }
    }

    // MARK: Staging bookkeeping

    /// Staging offset of the first staged entry (nil: none is queued).
    var firstStagedOffset: Int? {
        guard stagedEntries > 0 else { return nil }
        if holdsOnlyStaged { return entries[0].start }
        return entries.first(where: { if case .staged = $0.payload { return true }; return false })?.start
    }

    /// The staging buffer moved its live bytes `distance` toward its start.
    mutating func stagedBytesMoved(by distance: Int) {
        for index in entries.indices {
            if case .staged = entries[index].payload { entries[index].start -= distance }
        }
    }
}
