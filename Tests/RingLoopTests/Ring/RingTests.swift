import CLiburing
import Foundation
import Testing
@testable import RingLoop
#if canImport(Glibc)
import Glibc
#endif

/// Counts completions on the loop thread.
final class CompletionLog: CompletionHandler, @unchecked Sendable {
    // Safe to share: mutated only on the loop thread; tests read it there
    // (through `loop.submit`).
    var results: [Completion.Outcome] = []
    var hasMore: [Bool] = []
    var contexts: [UInt64] = []
    func completed(_ completion: Completion, context: UInt64) {
        results.append(completion.outcome)
        hasMore.append(completion.hasMore)
        contexts.append(context)
    }
}

@Suite("Ring")
struct RingTests {
    static func smallRing(sq: UInt32, cq: UInt32) -> EventLoop.Configuration {
        var config = EventLoop.Configuration()
        // These tests are about the ring itself (SQ flushing, CQ overflow,
        // operation slots): io_uring also when RINGLOOP_BACKEND=epoll.
        config.backend = .ioUring
        config.submissionQueueEntries = sq
        config.completionQueueEntries = cq
        config.ringOptions.submissionQueueEntries = sq
        config.ringOptions.completionQueueEntries = cq
        return config
    }

    @Test func aFullSubmissionQueueIsFlushedNotDropped() async throws {
        let loop = try EventLoop.spawn(configuration: Self.smallRing(sq: 4, cq: 4096))
        let log = CompletionLog()
        try await loop.submit {
            for i in 0..<1_000 {
                _ = try loop.submitOperation(.nop, handler: log, context: UInt64(i))
            }
        }.get()
        #expect(try await eventually { try await loop.submit { log.results.count == 1_000 }.get() })
        let contexts = try await loop.submit { log.contexts.sorted() }.get()
        #expect(contexts == (0..<1_000).map(UInt64.init))
        #expect(try await loop.submit { loop.inFlightOperations }.get() == 0)
        await loop.shutdownGracefully()
    }

    @Test func completionQueueOverflowLosesNoCompletion() async throws {
        // 10,000 completions in one tick into an 8-entry CQ: the kernel keeps
        // the overflow (IORING_FEAT_NODROP) and the loop drains it.
        let loop = try EventLoop.spawn(configuration: Self.smallRing(sq: 8, cq: 16))
        let log = CompletionLog()
        let count = 10_000
        try await loop.submit {
            for i in 0..<count {
                _ = try loop.submitOperation(.nop, handler: log, context: UInt64(i))
            }
        }.get()
        #expect(try await eventually { try await loop.submit { log.results.count == count }.get() })
        let unique = try await loop.submit { Set(log.contexts).count }.get()
        #expect(unique == count)
        #expect(try await loop.submit { loop.ringOverflowFlushes }.get() > 0, "the CQ really overflowed")
        #expect(try await loop.submit { loop.inFlightOperations }.get() == 0)
        await loop.shutdownGracefully()
    }

    @Test func multishotOperationKeepsItsRecordUntilTheFinalCompletion() async throws {
        try await withLoop { loop async throws in
            let efd = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
            defer { close(efd) }
            let log = CompletionLog()
            let id = try await loop.submit {
                try loop.submitOperation(.poll(fd: efd, events: UInt32(POLLIN), multishot: true), handler: log)
            }.get()
            var value: UInt64 = 0
            for round in 1...3 {
                var one: UInt64 = 1
                _ = write(efd, &one, 8)
                #expect(try await eventually { try await loop.submit { log.results.count >= round }.get() })
                _ = read(efd, &value, 8)   // re-arm edge: drain the counter
            }
            let live = try await loop.submit { (loop.inFlightOperations, log.hasMore.allSatisfy { $0 }) }.get()
            #expect(live.0 == 1, "the multishot poll is still armed")
            #expect(live.1, "every completion so far said the operation stays armed")
            #expect(try await loop.submit { loop.cancelOperation(id) }.get())
            #expect(try await eventually { try await loop.submit { loop.inFlightOperations == 0 }.get() })
            let last = try await loop.submit { (log.results.last, log.hasMore.last) }.get()
            #expect(last.0 == .cancelled, "cancelled by its owner while the loop runs")
            #expect(last.1 == false)
            // Cancelling a finished operation is a no-op.
            #expect(try await loop.submit { loop.cancelOperation(id) }.get() == false)
        }
    }

    @Test func operationSlotsAreReusedWithANewGeneration() async throws {
        try await withLoop { loop async throws in
            let log = CompletionLog()
            let first = try await loop.submit { try loop.submitOperation(.nop, handler: log) }.get()
            #expect(try await eventually { try await loop.submit { log.results.count == 1 }.get() })
            let second = try await loop.submit { try loop.submitOperation(.nop, handler: log) }.get()
            #expect(try await eventually { try await loop.submit { log.results.count == 2 }.get() })
            #expect(first.userData & 0xFFFF_FFFF == second.userData & 0xFFFF_FFFF)
            #expect(first != second)
        }
    }
}
