import Foundation
import Testing
@testable import RingLoop

/// In this test process the main thread leaves every signal unblocked (the
/// test runner clears its mask, and the main actor does not run there, so a
/// test cannot block it), so a process-directed `kill(getpid(), SIGTERM)`
/// could be taken by the main thread and end the run. These tests direct the
/// signal at the loop thread with `tgkill` instead: the loop thread blocks
/// it, and reads the signalfd on its own thread, so it reads its own pending
/// signals as well as the process's. Process-directed delivery, in a process
/// that follows the rule, is tested with the parallel-run example
/// (`ParallelRunTests`: SIGINT sent to the whole process).
@Suite struct SignalTests {
    @Test(.timeLimit(.minutes(1)))
    func sigtermSentToTheLoopThreadReachesTheSequence() async throws {
        try await withLoop { loop in
            do {
                var signals = loop.signals([.terminate, .userDefinedOne]).makeAsyncIterator()
                let thread = try await loopThreadID(loop)
                #expect(try await eventually { try await inFlight(loop) == 1 }, "the signalfd poll is armed")
                #expect(ProcessCalls.tgkill(thread: thread, SIGTERM) == 0)
                #expect(try await signals.next() == .terminate)
                #expect(ProcessCalls.tgkill(thread: thread, SIGUSR1) == 0)
                #expect(try await signals.next() == .userDefinedOne)
            }
            // The sequence is gone: no subscriber, so the poll is cancelled.
            #expect(try await eventually { try await inFlight(loop) == 0 })
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func callbackFormRunsOnTheLoopForEachSignalUntilCancelled() async throws {
        try await withLoop { loop in
            let received = Box<[Signal]>([])
            let onLoop = Box(true)
            let subscription = loop.onSignal([.userDefinedTwo]) { signal in
                onLoop.with { $0 = $0 && loop.inEventLoop }
                received.with { $0.append(signal) }
            }
            let thread = try await loopThreadID(loop)
            #expect(try await eventually { try await inFlight(loop) == 1 })
            #expect(ProcessCalls.tgkill(thread: thread, SIGUSR2) == 0)
            #expect(await eventually { received.get.count == 1 })
            #expect(ProcessCalls.tgkill(thread: thread, SIGUSR2) == 0)
            #expect(await eventually { received.get.count == 2 })
            #expect(onLoop.get)
            subscription.cancel()
            #expect(try await eventually { try await inFlight(loop) == 0 })
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func waitForSignalRunsTheShutdownOnce() async throws {
        try await withLoop { loop in
            let shutdowns = Box(0)
            let waiter = Task { try await loop.waitForSignal { _ in shutdowns.with { $0 += 1 } } }
            let thread = try await loopThreadID(loop)
            #expect(try await eventually { try await inFlight(loop) == 1 })
            #expect(ProcessCalls.tgkill(thread: thread, SIGINT) == 0)
            #expect(try await waiter.value == .interrupt)
            #expect(shutdowns.get == 1)
            #expect(try await eventually { try await inFlight(loop) == 0 })
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func nextSignalFailsWhenTheLoopShutsDownFirst() async throws {
        let loop = try EventLoop.spawn()
        let next = loop.nextSignal([.terminalClosed])
        #expect(try await eventually { try await inFlight(loop) == 1 })
        await loop.shutdownGracefully()
        await #expect(throws: RingLoopError.shutDown) { try await next.get() }
    }
}

/// The kernel thread id of `loop`'s thread.
func loopThreadID(_ loop: EventLoop) async throws -> pid_t {
    try await loop.submit { ProcessCalls.currentThreadID() }.get()
}
