import Foundation
import Testing
@testable import RingLoop

/// Drives a reactor directly (no loop): submits, waits, collects completions.
/// Every wait is bounded by a deadline.
final class ReactorHarness {
    let reactor: EpollReactor
    private(set) var completions: [ReactorCompletion] = []
    private var nextUserData: UInt64 = 1

    init(blockingThreads: Int = 2) throws {
        reactor = try EpollReactor(blockingThreads: blockingThreads)
    }

    @discardableResult
    func submit(_ operation: ReactorOperation) -> UInt64 {
        let id = nextUserData
        nextUserData += 1
        reactor.submit(userData: id, operation)
        return id
    }

    /// One wait without sleeping; returns the new completions.
    @discardableResult
    func poll() -> [ReactorCompletion] {
        reactor.wait(timeoutNanoseconds: 0)
        return collect()
    }

    /// Waits until `condition` holds on the completions of `id` (default: a
    /// final one arrived), for at most 5 s.
    @discardableResult
    func run(until id: UInt64, _ condition: (([ReactorCompletion]) -> Bool)? = nil) -> [ReactorCompletion] {
        let deadline = Date().addingTimeInterval(5)
        let done = condition ?? { $0.contains { !$0.hasMore } }
        while Date() < deadline {
            reactor.wait(timeoutNanoseconds: 50_000_000)
            _ = collect()
            if done(of(id)) { break }
        }
        return of(id)
    }

    func of(_ id: UInt64) -> [ReactorCompletion] { completions.filter { $0.userData == id } }

    private func collect() -> [ReactorCompletion] {
        var new: [ReactorCompletion] = []
        reactor.processCompletions { new.append($0) }
        completions += new
        return new
    }
}

func socketPair() -> (Int32, Int32) {
    var fds: [Int32] = [0, 0]
    let rc = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
    precondition(rc == 0)
    return (fds[0], fds[1])
}

func pipePair() -> (read: Int32, write: Int32) {
    var fds: [Int32] = [0, 0]
    precondition(pipe(&fds) == 0)
    return (fds[0], fds[1])
}

@Suite("EpollReactor")
struct EpollReactorTests {
    @Test func nopCompletesAtTheNextWaitNotInsideSubmit() throws {
        let h = try ReactorHarness()
        let id = h.submit(.nop)
        #expect(h.of(id).isEmpty)
        #expect(h.run(until: id) == [ReactorCompletion(userData: id, result: 0, hasMore: false, bufferID: nil)])
        #expect(h.reactor.live == 0)
    }

    @Test func receiveWaitsForDataAndLendsAPoolBuffer() throws {
        let fdsBefore = openFDCount()
        do {
            let h = try ReactorHarness()
            let pool = try ProvidedBufferPool(count: 4, size: 64)
            let (a, b) = socketPair()
            defer { close(a); close(b) }
            let id = h.submit(.receive(fd: a, pool: pool, multishot: false))
            h.poll()
            #expect(h.of(id).isEmpty, "a quiet socket completes nothing")
            #expect(pool.lent == 0, "a waiting receive holds no buffer")
            #expect(write(b, "hello", 5) == 5)
            let got = h.run(until: id)
            #expect(got.count == 1)
            let completion = try #require(got.first)
            #expect(completion.result == 5 && !completion.hasMore)
            let buffer = try #require(completion.bufferID)
            #expect(Array(pool.bytes(buffer, count: 5)) == Array("hello".utf8))
            #expect(pool.lent == 1)
            pool.recycle(buffer)
            #expect(h.reactor.live == 0)
        }
        #expect(openFDCount() == fdsBefore)
    }

    @Test func multishotReceiveRepeatsUntilEOF() throws {
        let h = try ReactorHarness()
        let pool = try ProvidedBufferPool(count: 8, size: 4)
        let (a, b) = socketPair()
        defer { close(a) }
        let id = h.submit(.receive(fd: a, pool: pool, multishot: true))
        #expect(write(b, "abcdefghij", 10) == 10)
        let first = h.run(until: id) { $0.reduce(0) { $0 + Int(max(0, $1.result)) } == 10 }
        #expect(first.allSatisfy { $0.hasMore && $0.bufferID != nil })
        var received: [UInt8] = []
        for c in first {
            received += pool.bytes(c.bufferID!, count: Int(c.result))
            pool.recycle(c.bufferID!)
        }
        #expect(received == Array("abcdefghij".utf8))
        close(b)
        let all = h.run(until: id)
        #expect(all.last == ReactorCompletion(userData: id, result: 0, hasMore: false, bufferID: nil))
        #expect(pool.lent == 0)
        #expect(h.reactor.live == 0)
    }

    @Test func anEmptyPoolReportsENOBUFSOnlyOnceDataIsThere() throws {
        let h = try ReactorHarness()
        let pool = try ProvidedBufferPool(count: 1, size: 16)
        let (a, b) = socketPair()
        defer { close(a); close(b) }
        let held = try #require(pool.take())
        let id = h.submit(.receive(fd: a, pool: pool, multishot: true))
        h.poll()
        #expect(h.of(id).isEmpty)
        #expect(write(b, "x", 1) == 1)
        #expect(h.run(until: id).map(\.result) == [-ENOBUFS])
        pool.recycle(held)
        // Nothing was consumed: the next receive gets the byte.
        let again = h.submit(.receive(fd: a, pool: pool, multishot: false))
        let got = h.run(until: again)
        #expect(got.map(\.result) == [1])
        pool.recycle(got[0].bufferID!)
    }

    @Test func cancelDeliversOneFinalCancelledCompletion() throws {
        let h = try ReactorHarness()
        let pool = try ProvidedBufferPool(count: 2, size: 16)
        let (a, b) = socketPair()
        defer { close(a); close(b) }
        let id = h.submit(.receive(fd: a, pool: pool, multishot: true))
        h.poll()
        #expect(h.reactor.cancel(userData: id))
        #expect(!h.reactor.cancel(userData: id), "a second cancel finds nothing")
        #expect(h.run(until: id).map(\.result) == [-ECANCELED])
        #expect(h.reactor.live == 0)
        #expect(write(b, "x", 1) == 1)
        h.poll()
        #expect(h.of(id).count == 1, "nothing after the final completion")
    }

    @Test func cancelAllOnAnFdCancelsBothDirections() throws {
        let h = try ReactorHarness()
        let pool = try ProvidedBufferPool(count: 2, size: 16)
        let (a, b) = socketPair()
        defer { close(a); close(b) }
        let big = [UInt8](repeating: 7, count: 1 << 20)
        let recv = h.submit(.receive(fd: a, pool: pool, multishot: false))
        var sends: [UInt64] = []
        big.withUnsafeBytes { bytes in
            // Far more than the socket buffer: the later sends must wait.
            for _ in 0..<8 { sends.append(h.submit(.send(fd: a, buffer: bytes.baseAddress!, count: bytes.count))) }
            h.poll()
            h.reactor.cancelAll(fd: a)
            h.poll()
        }
        #expect(h.of(recv).map(\.result) == [-ECANCELED])
        #expect(sends.contains { h.of($0).first?.result == -ECANCELED })
        #expect(sends.allSatisfy { h.of($0).count == 1 })
        #expect(h.reactor.live == 0)
    }

    @Test func sendsOnOneSocketCompleteInSubmissionOrder() throws {
        let h = try ReactorHarness()
        let (a, b) = socketPair()
        defer { close(a); close(b) }
        let chunk = 256 * 1024
        let payload = (0..<(4 * chunk)).map { UInt8(truncatingIfNeeded: $0 / chunk + 1) }
        var received: [UInt8] = []
        try payload.withUnsafeBytes { bytes in
            var offset = 0
            var ids: [UInt64] = []
            // Resubmits short sends the way the I/O layer does, one at a time per chunk.
            while offset < payload.count {
                let id = h.submit(.send(fd: a, buffer: bytes.baseAddress! + offset, count: payload.count - offset))
                ids.append(id)
                var buffer = [UInt8](repeating: 0, count: 65536)
                var sent: Int32?
                let deadline = Date().addingTimeInterval(5)
                while sent == nil && Date() < deadline {
                    h.poll()
                    sent = h.of(id).first?.result
                    let n = recv(b, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                    if n > 0 { received += buffer[..<n] }
                }
                let result = try #require(sent)
                #expect(result > 0)
                offset += Int(result)
            }
        }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while received.count < payload.count {
            let n = recv(b, &buffer, buffer.count, 0)
            if n <= 0 { break }
            received += buffer[..<n]
        }
        #expect(received == payload)
        #expect(h.reactor.live == 0)
    }

    @Test func multishotAcceptAndConnectOnLoopback() throws {
        let h = try ReactorHarness()
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { s in
                #expect(bind(listener, s, length) == 0)
                #expect(listen(listener, 16) == 0)
                #expect(getsockname(listener, s, &length) == 0)
            }
        }
        let accept = h.submit(.acceptMultishot(fd: listener))
        var clients: [Int32] = []
        var connects: [UInt64] = []
        withUnsafeBytes(of: &address) { target in
            for _ in 0..<3 {
                let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                clients.append(client)
                connects.append(h.submit(.connect(fd: client, address: target.baseAddress!, length: length)))
            }
            h.run(until: accept) { $0.count == 3 }
            for id in connects { h.run(until: id) }
        }
        #expect(connects.allSatisfy { h.of($0).map(\.result) == [0] })
        let accepted = h.of(accept)
        #expect(accepted.count == 3 && accepted.allSatisfy { $0.hasMore && $0.result >= 0 })
        for c in accepted {
            #expect(fcntl(c.result, F_GETFL) & O_NONBLOCK != 0)
            #expect(fcntl(c.result, F_GETFD) & FD_CLOEXEC != 0)
            close(c.result)
        }
        for client in clients { close(client) }
        h.reactor.cancel(userData: accept)
        #expect(h.run(until: accept).last?.result == -ECANCELED)
        #expect(h.reactor.live == 0)
    }

    @Test func connectToAClosedPortReportsTheSocketError() throws {
        let h = try ReactorHarness()
        // Bind a port and close it again: nothing listens there.
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { s in
                _ = bind(probe, s, length)
                _ = getsockname(probe, s, &length)
            }
        }
        close(probe)
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(client) }
        let id = withUnsafeBytes(of: &address) { target in
            let id = h.submit(.connect(fd: client, address: target.baseAddress!, length: length))
            h.run(until: id)
            return id
        }
        #expect(h.of(id).map(\.result) == [-ECONNREFUSED])
    }

    @Test func streamReadOnABlockingPipeWaitsWithoutBlockingTheThread() throws {
        let h = try ReactorHarness()
        let (r, w) = pipePair()
        defer { close(r); close(w) }
        var buffer = [UInt8](repeating: 0, count: 16)
        let vector = UnsafeMutablePointer<iovec>.allocate(capacity: 1)
        defer { vector.deallocate() }
        buffer.withUnsafeMutableBytes { bytes in
            vector.initialize(to: iovec(iov_base: bytes.baseAddress, iov_len: bytes.count))
            let id = h.submit(.streamReadv(fd: r, iovecs: vector, count: 1))
            h.poll()
            #expect(h.of(id).isEmpty)
            #expect(write(w, "pipe", 4) == 4)
            #expect(h.run(until: id).map(\.result) == [4])
            #expect(fcntl(r, F_GETFL) & O_NONBLOCK == 0, "the caller's fd mode is left alone")
            close(w)
            let eof = h.submit(.streamReadv(fd: r, iovecs: vector, count: 1))
            #expect(h.run(until: eof).map(\.result) == [0])
        }
        #expect(Array(buffer[..<4]) == Array("pipe".utf8))
    }

    @Test func multishotPollReportsEachEdge() throws {
        let h = try ReactorHarness()
        let (r, w) = pipePair()
        defer { close(r); close(w) }
        let id = h.submit(.poll(fd: r, events: UInt32(POLLIN), multishot: true))
        h.poll()
        #expect(h.of(id).isEmpty)
        var byte: UInt8 = 1
        #expect(write(w, &byte, 1) == 1)
        h.run(until: id) { $0.count == 1 }
        #expect(h.of(id).first.map { $0.hasMore && UInt32($0.result) & UInt32(POLLIN) != 0 } == true)
        #expect(read(r, &byte, 1) == 1)
        #expect(write(w, &byte, 1) == 1)
        h.run(until: id) { $0.count == 2 }
        #expect(h.of(id).count == 2)
        h.reactor.cancel(userData: id)
        #expect(h.run(until: id).last?.result == -ECANCELED)
    }

    @Test func blockingCallsRunOnWorkersAndWakeTheWait() throws {
        let h = try ReactorHarness(blockingThreads: 2)
        #expect(h.reactor.blockingThreadCount == 0, "no worker before the first blocking call")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("epoll-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { unlink(path) }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        defer { close(fd) }
        #expect(write(fd, "file bytes", 10) == 10)
        var buffer = [UInt8](repeating: 0, count: 4)
        let id = buffer.withUnsafeMutableBytes { bytes in
            let address = bytes.baseAddress!
            let id = h.submit(.blocking(fd: fd, call: BlockingCall { Int32(pread(fd, address, 4, 5)) }))
            // Waits with no timeout: only the worker's wakeup ends it.
            let deadline = Date().addingTimeInterval(5)
            while h.of(id).isEmpty && Date() < deadline {
                h.reactor.wait(timeoutNanoseconds: nil)
                h.poll()
            }
            return id
        }
        #expect(h.of(id).map(\.result) == [4])
        #expect(Array(buffer) == Array("byte".utf8))
        #expect(h.reactor.live == 0)
        #expect(h.reactor.blockingThreadCount >= 1)
    }

    @Test func closeCancelsWaitersOnTheFd() throws {
        let h = try ReactorHarness()
        let pool = try ProvidedBufferPool(count: 2, size: 16)
        let (a, b) = socketPair()
        defer { close(b) }
        let recv = h.submit(.receive(fd: a, pool: pool, multishot: true))
        h.poll()
        let closing = h.submit(.close(fd: a))
        h.run(until: closing)
        #expect(h.of(recv).map(\.result) == [-ECANCELED])
        #expect(h.of(closing).map(\.result) == [0])
        #expect(fcntl(a, F_GETFD) == -1, "the fd is closed")
    }

    @Test func closingTheReactorReleasesItsDescriptorsAndThreads() throws {
        let fdsBefore = openFDCount()
        let threadsBefore = threadCount()
        do {
            let h = try ReactorHarness()
            let id = h.submit(.blocking(fd: -1, call: BlockingCall { 0 }))
            h.run(until: id)
            h.reactor.close()
        }
        #expect(openFDCount() == fdsBefore)
        #expect(threadCount() == threadsBefore)
    }
}
