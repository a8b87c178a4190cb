import Testing
@testable import RingLoop

/// The receive side's decisions, without a socket: waiters are plain ints.
@Suite("InboundBuffer")
struct InboundBufferTests {
    typealias Buffer = InboundBuffer<Int>

    private func receive(_ buffer: inout Buffer, _ bytes: [UInt8], open: Bool = true) -> Buffer.Delivery {
        bytes.withUnsafeBytes { buffer.receive($0, open: open) }
    }

    private func chunk(_ result: Result<[UInt8]?, any Error>?) -> [UInt8]?? {
        guard let result, case let .success(value) = result else { return nil }
        return .some(value)
    }

    @Test func nobodyReadingArmsNoReceive() {
        let buffer = Buffer(readAheadLimit: 10)
        check(!buffer.wantsToReceive(open: true))
    }

    @Test func theAsyncReaderReadsAheadUpToItsLimitThenStops() {
        var buffer = Buffer(readAheadLimit: 10)
        check(buffer.takeReady(open: true) == nil)
        check(buffer.wantsToReceive(open: true))
        guard case .kept(stopReceiving: false) = receive(&buffer, [1, 2, 3, 4, 5, 6]) else { Issue.record("not kept"); return }
        guard case .kept(stopReceiving: true) = receive(&buffer, [7, 8, 9, 10]) else { Issue.record("no stop"); return }
        check(!buffer.wantsToReceive(open: true) && buffer.keptBytes == 10)
        check(chunk(buffer.takeReady(open: true)) == [1, 2, 3, 4, 5, 6])
        check(buffer.wantsToReceive(open: true), "taking a chunk re-opens the read-ahead")
    }

    @Test func aWaitingReaderGetsTheChunkDirectly() {
        var buffer = Buffer(readAheadLimit: 10)
        check(buffer.takeReady(open: true) == nil)
        buffer.wait(7)
        guard case let .waiter(waiter, bytes) = receive(&buffer, [1]) else { Issue.record("not delivered"); return }
        check(waiter == 7 && bytes == [1] && buffer.waiter == nil)
    }

    @Test func aCancelledReadPausesReceivingAndLosesNothing() {
        var buffer = Buffer(readAheadLimit: 10)
        _ = buffer.takeReady(open: true)
        buffer.wait(1)
        check(buffer.cancelWait(where: { $0 == 2 }) == nil, "another waiter is not cancelled")
        check(buffer.cancelWait(where: { $0 == 1 }) == 1)
        check(buffer.paused && !buffer.wantsToReceive(open: true))
        // A chunk already on its way is kept for the next read.
        guard case .kept = receive(&buffer, [5]) else { Issue.record("lost"); return }
        check(chunk(buffer.takeReady(open: true)) == [5])
        check(!buffer.paused)
    }

    @Test func eofIsReportedAfterTheKeptChunksAndOnlyOnce() {
        var buffer = Buffer(readAheadLimit: 10)
        _ = buffer.takeReady(open: true)
        _ = receive(&buffer, [1])
        check(buffer.finish(.eof) == nil, "kept bytes come first")
        check(buffer.finish(.failed(IOError("recv", .connectionReset))) == nil, "the first end wins")
        check(chunk(buffer.takeReady(open: true)) == [1])
        check(chunk(buffer.takeReady(open: true)) == .some(nil))
        check(chunk(buffer.takeReady(open: true)) == .some(nil))
    }

    @Test func aResetWakesTheWaitingReaderOnceThenReadsEnd() {
        var buffer = Buffer(readAheadLimit: 10)
        _ = buffer.takeReady(open: true)
        buffer.wait(3)
        let woken = buffer.finish(.failed(IOError("recv", .connectionReset)))
        check(woken?.waiter == 3)
        if case let .failure(error)? = woken?.result {
            check((error as? IOError) == IOError("recv", .connectionReset))
        } else {
            Issue.record("no error")
        }
        check(chunk(buffer.takeReady(open: true)) == .some(nil))
    }

    @Test func readingAfterCloseFailsWithClosed() {
        var buffer = Buffer(readAheadLimit: 10)
        guard case let .failure(error)? = buffer.takeReady(open: false) else { Issue.record("no error"); return }
        check((error as? RingLoopError) == .closed(operation: "read"))
    }

    @Test func aSecondReaderIsRefused() {
        var buffer = Buffer(readAheadLimit: 10)
        _ = buffer.takeReady(open: true)
        buffer.wait(1)
        guard case .failure? = buffer.takeReady(open: true) else { Issue.record("second reader accepted"); return }
        check(!buffer.setHandler())
    }

    @Test func aPausedHandlerKeepsChunksAndGetsThemThenTheEndOnResume() {
        var buffer = Buffer(readAheadLimit: 10)
        check(buffer.setHandler())
        check(buffer.wantsToReceive(open: true))
        guard case .handler = receive(&buffer, [1]) else { Issue.record("not to handler"); return }
        buffer.pause()
        guard case .kept(stopReceiving: false) = receive(&buffer, [2]) else { Issue.record("not kept"); return }
        check(buffer.finish(.eof) == nil)
        check(buffer.nextForHandler(open: true) == nil, "paused")
        check(buffer.resume())
        check(!buffer.wantsToReceive(open: true), "kept chunks first, and the stream ended")
        guard case let .chunk(bytes)? = buffer.nextForHandler(open: true) else { Issue.record("no chunk"); return }
        check(bytes == [2])
        guard case .end(.eof)? = buffer.nextForHandler(open: true) else { Issue.record("no eof"); return }
        check(buffer.nextForHandler(open: true) == nil && !buffer.handlerHasBacklog)
    }

    @Test func bytesArrivingWhileClosingAreDropped() {
        var buffer = Buffer(readAheadLimit: 10)
        check(buffer.setHandler())
        guard case .dropped = receive(&buffer, [1], open: false) else { Issue.record("kept"); return }
        check(buffer.keptBytes == 0)
    }

    @Test func closingDropsKeptChunksAndHandsBackTheWaiter() {
        var buffer = Buffer(readAheadLimit: 10)
        _ = buffer.takeReady(open: true)
        buffer.wait(4)
        check(buffer.close() == 4)
        check(buffer.keptBytes == 0 && buffer.waiter == nil)
    }
}
