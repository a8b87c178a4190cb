import Foundation
import Testing
@testable import RingLoop

/// Closing a descriptor with blocking calls queued or running on it: the
/// calls finish normally on their worker, and the close follows them there,
/// so none of them can run on the number after it is released.
@Suite("Epoll close behind blocking calls")
struct EpollCloseOrderTests {
    @Test func closeWaitsForTheRunningAndQueuedCallsOnItsDescriptor() throws {
        let h = try ReactorHarness(blockingThreads: 1)
        let (peer, fd) = socketPair()
        defer { close(peer) }
        let started = DispatchSemaphore(value: 0)
        let gate = DispatchSemaphore(value: 0)
        // F_GETFD: 0 (flags) while the descriptor is open, -EBADF once closed.
        let running = h.submit(.blocking(fd: fd, call: BlockingCall {
            started.signal()
            guard gate.wait(timeout: .now() + 10) == .success else { return -ETIMEDOUT }
            return fcntl(fd, F_GETFD) >= 0 ? 0 : -errno
        }))
        h.poll()
        try #require(started.wait(timeout: .now() + 5) == .success, "the worker picked up the first call")
        let queued = h.submit(.blocking(fd: fd, call: BlockingCall { fcntl(fd, F_GETFD) >= 0 ? 0 : -errno }))
        let closing = h.submit(.close(fd: fd))
        h.poll()
        // The worker is held at the gate: nothing has finished, the close included.
        #expect(h.of(running).isEmpty)
        #expect(h.of(queued).isEmpty)
        #expect(h.of(closing).isEmpty)
        #expect(fcntl(fd, F_GETFD) >= 0, "still open while its calls are pending")

        gate.signal()
        #expect(h.run(until: closing).last?.result == 0)
        #expect(h.of(running).last?.result == 0)
        #expect(h.of(queued).last?.result == 0)
        let order = h.completions.map(\.userData).filter { [running, queued, closing].contains($0) }
        #expect(order == [running, queued, closing])
    }

    @Test func closeWithNoBlockingCallsOnItsDescriptorClosesAtOnce() throws {
        let h = try ReactorHarness(blockingThreads: 1)
        let (peer, fd) = socketPair()
        defer { close(peer) }
        let closing = h.submit(.close(fd: fd))
        #expect(h.poll().contains { $0.userData == closing && $0.result == 0 })
    }
}
