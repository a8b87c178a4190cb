import Foundation
import SystemPackage
import Testing
@testable import RingLoop

/// Cancelling an awaiting task cancels the kernel's operation, answers the
/// task at once, and keeps the buffer alive until the kernel's final CQE.
@Suite("File cancellation")
struct FileCancellationTests {
    /// A FIFO opened read-write (so opening does not wait for a peer): reads
    /// on it stay in flight until someone writes.
    private func withFIFO(_ body: (FilePath, EventLoop) async throws -> Void) async throws {
        try await withTemporaryDirectory { dir in
            let path = dir.appending("fifo")
            guard mkfifo(path.string, 0o600) == 0 else { throw IOError("mkfifo", Errno(rawValue: errno)) }
            try await withLoop { loop in try await body(path, loop) }
        }
    }

    /// Reads into a buffer that only the read itself references.
    private static func readIntoFreshBuffer(_ file: File, _ watch: WeakBox<FileBuffer>) async throws {
        let buffer = FileBuffer(capacity: 4096)
        watch.value = buffer
        _ = try await file.read(into: buffer, at: 0)
    }

    @Test func cancelledReadKeepsItsBufferUntilTheKernelLetsGo() async throws {
        try await withFIFO { path, loop in
            let fds = openFDCount()
            let fifo = try await File.open(path, .readWrite, on: loop)
            let watch = WeakBox<FileBuffer>()
            let task = Task(executorPreference: loop) { () -> (Bool, Int, Bool) in
                do {
                    try await FileCancellationTests.readIntoFreshBuffer(fifo, watch)
                    return (false, 0, false)
                } catch {
                    // Resumed on the loop in the same tick as the cancel,
                    // before the ring has even seen the cancel SQE: the read
                    // is still in flight and still owns the buffer, which
                    // nothing else references any more.
                    return (error is CancellationError, loop.inFlightOperations, watch.value != nil)
                }
            }
            #expect(await eventually { (try? await loop.submit { loop.inFlightOperations }.get()) == 1 })
            #expect(watch.value != nil)
            task.cancel()
            let (cancelled, inFlightAtResume, bufferAliveAtResume) = await task.value
            #expect(cancelled)
            #expect(inFlightAtResume == 1)
            #expect(bufferAliveAtResume)
            // The kernel's -ECANCELED arrives; only then is the buffer freed.
            #expect(await eventually { (try? await loop.submit { loop.inFlightOperations }.get()) == 0 })
            #expect(await eventually { watch.value == nil })
            // The FIFO still works: nothing was consumed by the cancelled read.
            try await fifo.write([7, 8, 9], at: 0)
            #expect(try await fifo.read(count: 3, at: 0) == [7, 8, 9])
            try await fifo.close()
            #expect(openFDCount() == fds)
        }
    }

    @Test func taskCancelledBeforeTheReadStartsNeverSubmitsIt() async throws {
        try await withFIFO { path, loop in
            let fifo = try await File.open(path, .readWrite, on: loop)
            let task = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await fifo.read(count: 16, at: 0)
            }
            await #expect(throws: CancellationError.self) { _ = try await task.value }
            #expect(try await inFlight(loop) == 0)
            try await fifo.close()
        }
    }

    @Test func cancelStormLeavesNothingInFlightAndLosesNoData() async throws {
        try await withFIFO { path, loop in
            let fds = openFDCount()
            let fifo = try await File.open(path, .readWrite, on: loop)
            let rounds = 200
            let readsPerRound = 8
            let delivered = Box(0)
            let watches = Box<[WeakBox<FileBuffer>]>([])
            for round in 0..<rounds {
                var tasks: [Task<Void, any Error>] = []
                for _ in 0..<readsPerRound {
                    let watch = WeakBox<FileBuffer>()
                    watches.with { $0.append(watch) }
                    tasks.append(Task {
                        let buffer = FileBuffer(capacity: 1)
                        watch.value = buffer
                        _ = try await fifo.read(into: buffer, at: 0)
                        delivered.with { $0 += 1 }
                    })
                }
                // Race data against cancellation: some reads get a byte (the
                // kernel writes into their buffer, possibly after the task
                // was told it was cancelled), the rest are cancelled.
                if round % 2 == 0 { try await fifo.write([UInt8](repeating: 1, count: readsPerRound / 2), at: 0) }
                for task in tasks { task.cancel() }
                for task in tasks { _ = try? await task.value }
            }
            #expect(await eventually { (try? await loop.submit { loop.inFlightOperations }.get()) == 0 })
            // Every byte written was either delivered to a task or is still
            // in the FIFO, or was read by a read whose task had already been
            // answered with CancellationError; none vanished into freed memory.
            let written = (rounds / 2) * (readsPerRound / 2)
            #expect(delivered.get <= written)
            #expect(await eventually { watches.get.allSatisfy { $0.value == nil } })
            try await fifo.close()
            #expect(openFDCount() == fds)
        }
    }

    @Test func shutdownEndsAReadInFlightWithShutDown() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir.appending("fifo")
            guard mkfifo(path.string, 0o600) == 0 else { throw IOError("mkfifo", Errno(rawValue: errno)) }
            let fds = openFDCount()
            let loop = try EventLoop.spawn()
            let fifo = try await File.open(path, .readWrite, on: loop)
            let read: Future<Int> = fifo.read(into: FileBuffer(capacity: 64), at: 0)
            #expect(await eventually { (try? await loop.submit { loop.inFlightOperations }.get()) == 1 })
            await loop.shutdownGracefully()
            await #expect(throws: RingLoopError.shutDown) { _ = try await read.get() }
            try await fifo.close()
            #expect(openFDCount() == fds)
        }
    }

    @Test func cancellingAFileReadInFlightEndsCleanly() async throws {
        try await withTemporaryDirectory { dir in
            try await withLoop { loop in
                let path = dir.appending("big")
                try writeFileSynchronously(path, patternBytes(8 << 20))
                let file = try await File.open(path, on: loop)
                for _ in 0..<50 {
                    let task = Task { try await file.read(count: 8 << 20, at: 0) }
                    task.cancel()
                    // Either outcome is fine: the read won, or it was cancelled.
                    switch await task.result {
                    case let .success(bytes): #expect(bytes.count == 8 << 20)
                    case let .failure(error): #expect(error is CancellationError)
                    }
                }
                #expect(await eventually { (try? await loop.submit { loop.inFlightOperations }.get()) == 0 })
                try await file.close()
            }
        }
    }
}
