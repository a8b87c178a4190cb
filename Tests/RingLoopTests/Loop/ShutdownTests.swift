import Foundation
import SystemPackage
import CLiburing
import Testing
@testable import RingLoop
#if canImport(Glibc)
import Glibc
#endif

/// A raw read on a pipe through the ring: it stays in flight until data arrives
/// or it is cancelled. Owns its buffer until the final CQE.
final class PendingRead: CompletionHandler, @unchecked Sendable {
    // Safe to share: `result` is written on the loop thread and read by tests
    // only after the loop has shut down (or via `loop.submit`).
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 8)
    var result: Completion.Outcome?
    deinit { buffer.deallocate() }
    func completed(_ completion: Completion, context: UInt64) { result = completion.outcome }
}

@Suite("Shutdown")
struct ShutdownTests {
    @Test func shutdownFailsTimersCancelsInFlightOperationsAndLeaksNoFD() async throws {
        let fdsBefore = openFDCount()
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let loop = try EventLoop.spawn()
        let read = PendingRead()
        let readFD = fds[0]
        let submitted = try await loop.submit { () throws -> Int in
            _ = try loop.submitOperation(.read(fd: readFD, buffer: read.buffer, count: 64, offset: -1), handler: read)
            return loop.inFlightOperations
        }.get()
        #expect(submitted == 1)
        let timer = loop.schedule(after: .seconds(60)) { 1 }
        let queued = Box(false)
        loop.execute { queued.with { $0 = true } }
        await loop.shutdownGracefully()
        #expect(queued.get, "work queued before shutdown runs")
        await #expect(throws: RingLoopError.shutDown) { try await timer.future.get() }
        #expect(read.result == .shutDown, "cancelled by the shutdown, and reported as such")
        #expect(loop.isShutDown)
        close(fds[0]); close(fds[1])
        #expect(openFDCount() == fdsBefore)
    }

    @Test func workAfterShutdownFailsCleanlyInsteadOfHanging() async throws {
        let loop = try EventLoop.spawn()
        try loop.syncShutdownGracefully()
        await #expect(throws: RingLoopError.shutDown) { try await loop.submit { 1 }.get() }
        await #expect(throws: RingLoopError.shutDown) { try await loop.schedule(after: .zero) { 1 }.future.get() }
        let repeated = loop.scheduleRepeatedTask(initialDelay: .zero, delay: .seconds(1)) { _ in }
        await #expect(throws: RingLoopError.shutDown) { try await repeated.future.get() }
        // Tasks and callbacks still complete (serially, off the dead loop).
        let ran = try await Task(executorPreference: loop) { () async throws -> Int in
            await Task.yield()
            return 5
        }.value
        #expect(ran == 5)
        let promise = loop.makePromise(of: Int.self)
        promise.succeed(3)
        #expect(try await value(of: promise.future) == 3)
        // Operations refuse to start.
        let refused = try await loop.submit { 0 }.flatMapError { error in
            loop.makeSucceededFuture((error as? RingLoopError) == .shutDown ? 1 : 0)
        }.get()
        #expect(refused == 1)
    }

    @Test func shutdownIsIdempotentAndCallableFromAnyThreadAndFromTheLoop() async throws {
        let loop = try EventLoop.spawn()
        let calls = Box(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            loop.shutdownGracefully { calls.with { $0 += 1 } }
        }
        loop.execute { loop.shutdownGracefully { calls.with { $0 += 1 } } }
        await loop.shutdownGracefully()
        #expect(await eventually { calls.get == 9 })
        await loop.shutdownGracefully()
        try loop.syncShutdownGracefully()
    }

    @Test func syncShutdownIsRefusedOnALoopThread() async throws {
        try await withLoop { loop async throws in
            let error = try await loop.submit { () -> RingLoopError? in
                do throws(RingLoopError) { try loop.syncShutdownGracefully(); return nil } catch { return error }
            }.get()
            #expect(error == .blockingWaitOnEventLoop(operation: "syncShutdownGracefully"))
        }
    }

    @Test func groupStartsOneLoopPerCoreAndShutsAllDown() async throws {
        let fdsBefore = openFDCount()
        let group = try EventLoopGroup()
        #expect(group.loops.count == System.coreCount)
        let picks = (0..<(2 * group.loops.count)).map { _ in group.next() }
        #expect(picks == group.loops + group.loops)
        let fromLoop = try await group.loops[0].submit { group.any() === group.loops[0] }.get()
        #expect(fromLoop)
        try group.syncShutdownGracefully()
        let allDown = group.loops.allSatisfy { $0.isShutDown }
        #expect(allDown)
        #expect(await eventually { openFDCount() == fdsBefore })
    }
}

@Suite("io_uring unavailable")
struct UnavailableTests {
    @Test(arguments: [EPERM, ENOSYS, ENOMEM])
    func loopCreationFailsWithATypedErrorThatSaysWhatToDo(code: Int32) throws {
        var config = EventLoop.Configuration()
        // Forced: without it the loop would fall back to epoll (tested below).
        config.backend = .ioUring
        config.ringOptions.setupOverride = { _, _, _ in -code }
        let fdsBefore = openFDCount()
        do {
            _ = try EventLoop.spawn(configuration: config)
            Issue.record("expected spawn to fail")
        } catch {
            guard case let .ioUringUnavailable(errno, hint) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(errno == Errno(rawValue: code))
            #expect(!hint.isEmpty)
            #expect(String(describing: error).contains("io_uring is unavailable"))
        }
        #expect(openFDCount() == fdsBefore)
        do {
            _ = try EventLoopGroup(numberOfLoops: 2, configuration: config)
            Issue.record("expected the group to fail")
        } catch {}
    }

    @Test func setupFallsBackToFewerFlagsWhenTheKernelRefusesThem() async throws {
        var config = EventLoop.Configuration()
        // The ring's own fallback chain, also when RINGLOOP_BACKEND=epoll.
        config.backend = .ioUring
        let tried = LockedValue<[UInt32]>([])
        config.ringOptions.setupOverride = { entries, ring, params in
            tried.withLockedValue { $0.append(params.pointee.flags) }
            if params.pointee.flags & IORING_SETUP_DEFER_TASKRUN != 0 { return -EINVAL }
            return io_uring_queue_init_params(entries, ring, params)
        }
        let loop = try EventLoop.spawn(configuration: config)
        #expect(!loop.usesDeferredTaskRun)
        #expect(tried.withLockedValue { $0.count } == 3)
        // The loop works without DEFER_TASKRUN: cross-thread wakeups, timers.
        #expect(try await loop.schedule(after: .milliseconds(2)) { 4 }.future.get() == 4)
        Thread.detachNewThread { loop.execute {} }
        #expect(try await loop.submit { 5 }.get() == 5)
        await loop.shutdownGracefully()
    }

    @Test(arguments: [EPERM, ENOSYS])
    func automaticSelectionFallsBackToEpollWhenIoUringIsDenied(code: Int32) async throws {
        var config = EventLoop.Configuration()
        config.ringOptions.setupOverride = { _, _, _ in -code }
        try await withEnvironment(EventLoop.Backend.environmentVariable, nil) {
            let fdsBefore = openFDCount()
            let loop = try EventLoop.spawn(configuration: config)
            #expect(loop.ioBackend == .epoll)
            #expect(try await loop.schedule(after: .milliseconds(2)) { 4 }.future.get() == 4)
            Thread.detachNewThread { loop.execute {} }
            #expect(try await loop.submit { 5 }.get() == 5)
            await loop.shutdownGracefully()
            #expect(openFDCount() == fdsBefore)
        }
    }

    @Test func theEnvironmentVariableChoosesTheBackendAndTheConfigurationWins() async throws {
        try await withEnvironment(EventLoop.Backend.environmentVariable, "epoll") {
            let loop = try EventLoop.spawn()
            #expect(loop.ioBackend == .epoll)
            await loop.shutdownGracefully()
            var config = EventLoop.Configuration()
            config.backend = .ioUring
            let forced = try EventLoop.spawn(configuration: config)
            #expect(forced.ioBackend == .ioUring)
            await forced.shutdownGracefully()
        }
        try await withEnvironment(EventLoop.Backend.environmentVariable, "io_uring") {
            let loop = try EventLoop.spawn()
            #expect(loop.ioBackend == .ioUring)
            await loop.shutdownGracefully()
        }
    }
}

/// Runs `body` with environment variable `name` set to `value` (nil: unset),
/// restoring it afterwards. Tests run one at a time (`--no-parallel`), so no
/// other test reads the environment meanwhile.
func withEnvironment(_ name: String, _ value: String?, _ body: () async throws -> Void) async rethrows {
    let saved = getenv(name).map { String(cString: $0) }
    if let value { setenv(name, value, 1) } else { unsetenv(name) }
    defer { if let saved { setenv(name, saved, 1) } else { unsetenv(name) } }
    try await body()
}
