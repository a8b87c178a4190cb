import Testing
@testable import RingLoop

/// The send queue's decisions, without a socket: completions are plain ints.
@Suite("OutboundQueue")
struct OutboundQueueTests {
    typealias Queue = OutboundQueue<Int>

    private func queue(high: Int = 100, low: Int = 10) -> Queue {
        Queue(highWatermark: high, lowWatermark: low)
    }

    private func bytes(_ count: Int) -> Queue.Payload { .bytes([UInt8](repeating: 7, count: count)) }

    private func succeeded(_ outcomes: [Queue.Outcome]) -> [Int] {
        outcomes.compactMap { if case .success = $0.result { return $0.completion }; return nil }
    }

    private func failed(_ outcomes: [Queue.Outcome]) -> [Int] {
        outcomes.compactMap { if case .failure = $0.result { return $0.completion }; return nil }
    }

    @Test func aPartialSendLeavesTheRestOfTheHeadQueued() {
        var q = queue()
        check(q.enqueue(bytes(10), count: 10, completion: 1) == nil)
        check(q.enqueue(bytes(5), count: 5, completion: 2) == nil)
        q.sendStarted(covering: 2)
        check(q.sendCompleted(sent: 4).outcomes.isEmpty)
        check(q.queuedBytes == 11)
        check(q.entries.first?.start == 4 && q.entries.first?.partlySent == true)
        q.sendStarted(covering: 2)
        check(succeeded(q.sendCompleted(sent: 6).outcomes) == [1])
        q.sendStarted(covering: 1)
        check(succeeded(q.sendCompleted(sent: 5).outcomes) == [2])
        check(q.isEmpty && q.queuedBytes == 0)
    }

    @Test func aLentEntryThatIsPartlySentIsRestagedAheadOfLaterStagedBytes() {
        var q = queue(high: 1000, low: 10)
        let lent = [UInt8](repeating: 1, count: 10)
        lent.withUnsafeBytes { q.enqueueLent($0.baseAddress!, count: 10) }
        q.sendStarted(covering: 1)
        // Staged while the lent send is in flight, queued behind it.
        q.enqueueStaged(offset: 0, count: 5)
        check(q.queuedBytes == 15 && q.stagedEntries == 1)
        var outcomes: [Queue.Outcome] = []
        check(!q.sendCompleted(sent: 4, into: &outcomes) && outcomes.isEmpty)
        check(q.entries.first?.start == 4 && q.entries.first?.count == 6)
        // The owner copied the 6 unsent bytes in front of the staged ones.
        q.stagedBytesMoved(by: -6)
        q.restageHead(at: 0)
        check(q.stagedEntries == 2 && q.holdsOnlyStaged)
        check(q.entries.map(\.start) == [0, 6] && q.firstStagedOffset == 0)
        check(q.queuedBytes == 11)
        q.sendStarted(covering: 2)
        check(!q.sendCompleted(sent: 11, into: &outcomes) && q.isEmpty && outcomes.isEmpty)
    }

    @Test func aLentEntryLostToABrokenOutputIsReportedAsUntracked() {
        var q = queue()
        let lent = [UInt8](repeating: 1, count: 10)
        lent.withUnsafeBytes { q.enqueueLent($0.baseAddress!, count: 10) }
        let broken = q.fail(RingLoopError.closed(operation: "write"))
        check(broken.outcomes.isEmpty && broken.untracked && q.isEmpty && q.queuedBytes == 0)
    }

    @Test func aSendSpanningSeveralWritesCompletesThemInOrder() {
        var q = queue()
        for i in 1...3 { _ = q.enqueue(bytes(3), count: 3, completion: i) }
        q.sendStarted(covering: 3)
        check(succeeded(q.sendCompleted(sent: 7).outcomes) == [1, 2])
        check(q.entries.count == 1 && q.entries[0].count == 2)
    }

    @Test func aMultiBufferWriteSucceedsOnlyWithItsLastBuffer() {
        var q = queue()
        _ = q.enqueue(bytes(2), count: 2, completion: 9, last: false)
        _ = q.enqueue(bytes(2), count: 2, completion: 9, last: true)
        q.sendStarted(covering: 2)
        check(q.sendCompleted(sent: 2).outcomes.isEmpty)
        q.sendStarted(covering: 1)
        check(succeeded(q.sendCompleted(sent: 2).outcomes) == [9])
    }

    @Test func anEmptyWriteCompletesAtOnceAndQueuesNothing() {
        var q = queue()
        let outcome = q.enqueue(.bytes([]), count: 0, completion: 4)
        check(outcome?.completion == 4)
        check(q.isEmpty)
    }

    @Test func writabilityCrossesTheHighWatermarkThenTheLowOne() {
        var q = queue(high: 10, low: 4)
        _ = q.enqueue(bytes(10), count: 10, completion: 1)
        check(!q.updateWritability() && q.isWritable, "at the high watermark: still writable")
        q.enqueueStaged(offset: 0, count: 1)
        check(q.updateWritability() && !q.isWritable, "above it: not writable")
        q.sendStarted(covering: 2)
        _ = q.sendCompleted(sent: 6).outcomes
        check(!q.updateWritability() && !q.isWritable, "5 queued: above the low watermark")
        q.sendStarted(covering: 2)
        _ = q.sendCompleted(sent: 1).outcomes
        check(q.updateWritability() && q.isWritable, "4 queued: at the low watermark")
        check(!q.updateWritability(), "reported once")
    }

    @Test func stagedBytesExtendTheStagedTail() {
        var q = queue()
        q.enqueueStaged(offset: 0, count: 5)
        q.enqueueStaged(offset: 5, count: 5)
        check(q.entries.count == 1 && q.entries[0].count == 10 && q.stagedEntries == 1)
        _ = q.enqueue(bytes(1), count: 1, completion: 1)
        q.enqueueStaged(offset: 10, count: 2)
        check(q.entries.count == 3 && q.stagedEntries == 2)
        check(q.firstStagedOffset == 0)
        q.sendStarted(covering: 3)
        _ = q.sendCompleted(sent: 10).outcomes
        check(q.firstStagedOffset == 10 && q.stagedEntries == 1)
        q.stagedBytesMoved(by: 10)
        check(q.firstStagedOffset == 0)
    }

    private func error(_ outcome: Queue.Outcome?) -> (any Error)? {
        guard let outcome, case let .failure(error) = outcome.result else { return nil }
        return error
    }

    /// `written` of the `PartialWriteError` an outcome failed with.
    private func written(_ outcome: Queue.Outcome?) -> Int? {
        guard let error = error(outcome) as? PartialWriteError, error.reason is CancellationError else { return nil }
        return error.written
    }

    @Test func cancellingAQueuedWriteFailsItWithCancellationAndKeepsTheOthers() {
        var q = queue()
        for i in 1...3 { _ = q.enqueue(bytes(4), count: 4, completion: i) }
        q.sendStarted(covering: 1)
        let cancellation = q.cancel(where: { $0 == 2 })
        check(cancellation.found && !cancellation.cancelSend)
        check(cancellation.outcomes.map(\.completion) == [2] && error(cancellation.outcomes.first) is CancellationError)
        check(q.entries.map(\.completion) == [1, 3] && q.queuedBytes == 8)
    }

    @Test func aCancelledWriteTheSendCoversWaitsForTheSend() {
        var q = queue()
        _ = q.enqueue(bytes(4), count: 4, completion: 1)
        q.sendStarted(covering: 1)
        let cancellation = q.cancel(where: { $0 == 1 })
        check(cancellation.found && cancellation.cancelSend && cancellation.outcomes.isEmpty, "not decided yet")
        check(q.entries[0].cancelled)
    }

    @Test func aCancelledWriteTheKernelSentWholeSucceeds() {
        var q = queue()
        _ = q.enqueue(bytes(4), count: 4, completion: 1)
        q.sendStarted(covering: 1)
        _ = q.cancel(where: { $0 == 1 })
        let (outcomes, _) = q.sendCompleted(sent: 4)
        check(succeeded(outcomes) == [1] && q.isEmpty && q.refusal == nil)
    }

    @Test func aCancelledWriteTheKernelNeverStartedFailsWithCancellationAndTheStreamGoesOn() {
        var q = queue()
        _ = q.enqueue(bytes(4), count: 4, completion: 1)
        _ = q.enqueue(bytes(4), count: 4, completion: 2)
        q.sendStarted(covering: 2)
        _ = q.cancel(where: { $0 == 1 })
        let (outcomes, untracked) = q.sendEndedUnsent()
        check(outcomes.map(\.completion) == [1] && error(outcomes.first) is CancellationError && !untracked)
        check(q.entries.map(\.completion) == [2] && q.queuedBytes == 4 && q.refusal == nil)
    }

    @Test func aCancelledWriteTheKernelSentPartOfFailsWithTheCountAndBreaksTheOutput() {
        var q = queue()
        _ = q.enqueue(bytes(8), count: 8, completion: 1)
        _ = q.enqueue(bytes(4), count: 4, completion: 2)
        q.sendStarted(covering: 2)
        _ = q.cancel(where: { $0 == 1 })
        let (outcomes, _) = q.sendCompleted(sent: 3)
        check(written(outcomes.first(where: { $0.completion == 1 })) == 3)
        check(failed(outcomes) == [1, 2], "the write behind it fails too")
        check(q.isEmpty && q.queuedBytes == 0)
        check((q.refusal as? RingLoopError) == .writeCancelledMidway(operation: "send"))
    }

    @Test func aWritePartlySentByAnEarlierSendFailsWithTheCountWhenCancelled() {
        var q = queue()
        _ = q.enqueue(bytes(8), count: 8, completion: 1)
        q.sendStarted(covering: 1)
        _ = q.sendCompleted(sent: 5)
        q.enqueueStaged(offset: 0, count: 2)
        let cancellation = q.cancel(where: { $0 == 1 })
        check(!cancellation.cancelSend)
        check(written(cancellation.outcomes.first) == 5)
        check(cancellation.untracked, "the staged bytes behind it are lost")
        check(q.refusal != nil)
    }

    @Test func aCancelledMultiBufferWriteCountsWhatItsEarlierBuffersSent() {
        var q = queue()
        _ = q.enqueue(bytes(4), count: 4, completion: 1, last: false, writeOffset: 0)
        _ = q.enqueue(bytes(4), count: 4, completion: 1, last: true, writeOffset: 4)
        q.sendStarted(covering: 2)
        _ = q.cancel(where: { $0 == 1 })
        let (outcomes, _) = q.sendCompleted(sent: 6)
        check(written(outcomes.first) == 6 && (error(outcomes.first) as? PartialWriteError)?.requested == 8)
        check(q.isEmpty)
    }

    @Test func cancellingAnUncoveredWriteLeavesACoveredCancelledOneToItsSend() {
        var q = queue()
        _ = q.enqueue(bytes(4), count: 4, completion: 1)
        q.sendStarted(covering: 1)
        _ = q.enqueue(bytes(4), count: 4, completion: 2)
        _ = q.cancel(where: { $0 == 1 })
        let second = q.cancel(where: { $0 == 2 })
        check(second.outcomes.map(\.completion) == [2])
        check(q.entries.count == 1 && q.entries[0].cancelled, "write 1 still belongs to the kernel")
    }

    @Test func aQueuedShutdownRefusesLaterWritesAndCompletesAfterTheBytes() {
        var q = queue()
        _ = q.enqueue(bytes(2), count: 2, completion: 1)
        _ = q.enqueue(.shutdown, count: 0, completion: 2)
        check((q.refusal as? IOError) == IOError("send", .brokenPipe))
        check(failed([q.enqueue(bytes(1), count: 1, completion: 3)!]) == [3])
        q.sendStarted(covering: 2)
        check(succeeded(q.sendCompleted(sent: 2).outcomes) == [1], "a send never consumes the shutdown marker")
        q.sendStarted(covering: 1)
        check(succeeded(q.shutdownCompleted(.done, open: true)) == [2])
        check(q.isEmpty)
    }

    @Test func aCancelledShutdownReopensTheOutput() {
        var q = queue()
        _ = q.enqueue(.shutdown, count: 0, completion: 1)
        q.sendStarted(covering: 1)
        check(q.cancel(where: { $0 == 1 }).cancelSend)
        let outcomes = q.shutdownCompleted(.cancelled, open: true)
        check(error(outcomes.first) is CancellationError)
        check(q.isEmpty && q.refusal == nil)
    }

    @Test func aCancelledShutdownTheKernelPerformedSucceeds() {
        var q = queue()
        _ = q.enqueue(.shutdown, count: 0, completion: 1)
        q.sendStarted(covering: 1)
        _ = q.cancel(where: { $0 == 1 })
        check(succeeded(q.shutdownCompleted(.done, open: true)) == [1])
        check(q.refusal != nil)
    }

    @Test func aShutdownCancelledByCloseFailsWithClosed() {
        var q = queue()
        _ = q.enqueue(.shutdown, count: 0, completion: 1)
        q.sendStarted(covering: 1)
        let outcomes = q.shutdownCompleted(.cancelled, open: false)
        check(failed(outcomes) == [1])
        check((outcomes.first.flatMap { if case let .failure(e) = $0.result { return e as? RingLoopError }; return nil }) == RingLoopError.closed(operation: "shutdownOutput"))
    }

    @Test func aSpuriouslyCancelledShutdownIsRetried() {
        var q = queue()
        _ = q.enqueue(.shutdown, count: 0, completion: 1)
        q.sendStarted(covering: 1)
        check(q.shutdownCompleted(.cancelled, open: true).isEmpty)
        check(q.entries.count == 1 && q.canStartSend)
    }

    @Test func failingTheOutputFailsEveryWriteAndEveryLaterOne() {
        var q = queue()
        _ = q.enqueue(bytes(2), count: 2, completion: 1)
        q.enqueueStaged(offset: 0, count: 3)
        let (outcomes, untracked) = q.fail(IOError("send", .connectionReset))
        check(failed(outcomes) == [1] && untracked)
        check(q.queuedBytes == 0 && q.stagedEntries == 0 && !q.canStartSend)
        check(failed([q.enqueue(bytes(1), count: 1, completion: 2)!]) == [2])
    }

    @Test func failAllOnCloseLeavesTheOutputState() {
        var q = queue()
        _ = q.enqueue(bytes(2), count: 2, completion: 1)
        check(failed(q.failAll(RingLoopError.closed(operation: "write")).outcomes) == [1])
        check(q.refusal == nil)
    }

    @Test func noSendStartsWhileOneIsInFlightOrTheQueueIsEmpty() {
        var q = queue()
        check(!q.canStartSend)
        _ = q.enqueue(bytes(1), count: 1, completion: 1)
        check(q.canStartSend)
        q.sendStarted(covering: 1)
        check(!q.canStartSend && q.isSending)
        q.sendEnded()
        check(q.canStartSend && !q.isSending)
    }
}
