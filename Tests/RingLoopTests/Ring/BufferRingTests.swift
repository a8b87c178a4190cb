import Testing
@testable import RingLoop
#if canImport(Glibc)
import Glibc
#endif

/// Takes every buffer its receives are lent and keeps it until told.
final class ReceiveLog: CompletionHandler, @unchecked Sendable {
    // Safe to share: touched only on the loop thread (tests read it through
    // `loop.submit`).
    let group: ProvidedBuffers
    let ring: BufferRing
    var buffers: [UInt16] = []
    var noBuffer = 0
    var other = 0

    init(_ group: ProvidedBuffers) throws {
        guard case let .ring(ring) = group else { throw RingLoopError.closed(operation: "not a kernel ring") }
        self.group = group
        self.ring = ring
    }

    func completed(_ completion: Completion, context: UInt64) {
        if let id = ring.take(completion.bufferID) {
            buffers.append(id)
        } else if case .failure(let errno) = completion.outcome, errno.rawValue == ENOBUFS {
            noBuffer += 1
        } else {
            other += 1
        }
    }
}

@Suite("BufferRing")
struct BufferRingTests {
    /// An io_uring loop (also when RINGLOOP_BACKEND=epoll: these tests are
    /// about the kernel ring) with room for every receive in one submission.
    static func ringLoop() throws -> EventLoop {
        var config = EventLoop.Configuration()
        config.backend = .ioUring
        config.submissionQueueEntries = 256
        config.completionQueueEntries = 1024
        config.ringOptions.submissionQueueEntries = 256
        config.ringOptions.completionQueueEntries = 1024
        return try EventLoop.spawn(configuration: config)
    }

    /// `count` socket pairs, each with one byte waiting at its first end.
    static func readablePairs(_ count: Int) -> [(Int32, Int32)] {
        (0..<count).map { _ in
            var fds: [Int32] = [0, 0]
            let rc = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
            precondition(rc == 0)
            var byte: UInt8 = 7
            precondition(write(fds[1], &byte, 1) == 1)
            return (fds[0], fds[1])
        }
    }

    static func close(_ pairs: [(Int32, Int32)]) {
        for (a, b) in pairs {
            Glibc.close(a)
            Glibc.close(b)
        }
    }

    /// Every buffer is posted, lent or in reserve, exactly once.
    static func accounted(_ ring: BufferRing) -> Bool {
        ring.available + ring.lent + ring.reserved == ring.count
    }

    @Test func postsAWindowOfBuffersAndWidensItWhenReceivesTakeMostOfIt() async throws {
        let loop = try Self.ringLoop()
        let pairs = Self.readablePairs(60)
        defer { Self.close(pairs) }
        let log = try await loop.submit {
            let log = try ReceiveLog(loop.makeBufferRing(count: 256, size: 64))
            let ring = log.ring
            #expect(ring.window == BufferRing.initialWindow)
            #expect(ring.available == BufferRing.initialWindow)
            #expect(ring.reserved == 256 - BufferRing.initialWindow)
            for (fd, _) in pairs {
                _ = try loop.submitOperation(.receive(fd: fd, bufferGroup: ring.group, multishot: false), handler: log)
            }
            return log
        }.get()
        #expect(try await eventually { try await loop.submit { log.buffers.count == 60 }.get() })
        try await loop.submit {
            let ring = log.ring
            #expect(Set(log.buffers).count == 60, "each receive got a buffer of its own")
            #expect(ring.window == 2 * BufferRing.initialWindow, "widened once fewer than a quarter were left")
            #expect(ring.lent == 60)
            #expect(Self.accounted(ring))
            for id in log.buffers { ring.recycle(id) }
            #expect(ring.lent == 0)
            #expect(ring.available == ring.window, "recycling refills the window")
            #expect(ring.reserved == 256 - ring.window, "and keeps the rest in reserve")
            #expect(Self.accounted(ring))
            #expect(log.noBuffer == 0 && log.other == 0)
            loop.releaseBufferRing(log.group)
        }.get()
        #expect(try await loop.submit { loop.inFlightOperations }.get() == 0)
        await loop.shutdownGracefully()
    }

    @Test func aReceiveThatFindsTheWindowEmptyGetsENOBUFSAndRanDryPostsMore() async throws {
        let loop = try Self.ringLoop()
        let pairs = Self.readablePairs(BufferRing.initialWindow + 6)
        defer { Self.close(pairs) }
        let log = try await loop.submit {
            let log = try ReceiveLog(loop.makeBufferRing(count: 1024, size: 64))
            let ring = log.ring
            // All in one submission: the kernel fills the posted window before
            // the loop sees a completion, and the last six find it empty.
            for (fd, _) in pairs {
                _ = try loop.submitOperation(.receive(fd: fd, bufferGroup: ring.group, multishot: false), handler: log)
            }
            return log
        }.get()
        #expect(try await eventually { try await loop.submit { log.buffers.count + log.noBuffer + log.other == pairs.count }.get() })
        try await loop.submit {
            let ring = log.ring
            #expect(log.buffers.count == BufferRing.initialWindow)
            #expect(log.noBuffer == 6)
            #expect(ring.window == 2 * BufferRing.initialWindow, "widened (and refilled) as they were taken")
            #expect(ring.available < ring.window)
            let before = ring.window
            ring.ranDry()
            #expect(ring.window == 2 * before)
            #expect(ring.available == ring.window, "and the reserve filled it")
            #expect(Self.accounted(ring))
            for id in log.buffers { ring.recycle(id) }
            #expect(ring.lent == 0 && Self.accounted(ring))
            loop.releaseBufferRing(log.group)
        }.get()
        await loop.shutdownGracefully()
    }

    @Test func buffersDoNotOverlapAndStartOneCacheLineApartBeyondTheirSize() async throws {
        let loop = try Self.ringLoop()
        try await loop.submit {
            let log = try ReceiveLog(loop.makeBufferRing(count: 8, size: 4096))
            let ring = log.ring
            let starts = (0..<8).map { UInt(bitPattern: ring.bytes(UInt16($0), count: 4096).baseAddress) }
            for i in 1..<8 {
                #expect(starts[i] - starts[i - 1] == UInt(4096 + BufferRing.colorStep))
            }
            #expect(Set(starts.map { ($0 / 64) % 64 }).count == 8, "different L1 cache sets")
            loop.releaseBufferRing(log.group)
        }.get()
        await loop.shutdownGracefully()
    }
}
