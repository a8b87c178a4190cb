import Foundation
import Testing
import RingLoop

/// Many connections doing everything at once against an echo server built on
/// the public API only, for a bounded time; afterwards every connection is
/// closed, no descriptor or operation is left, and memory is back within a
/// bound.
///
/// Duration: `RINGLOOP_SOAK_SECONDS` (default 8 s, so that `scripts/test`
/// stays short in debug builds; CI's `.ci/run` sets 45 s). Seed:
/// `RINGLOOP_SOAK_SEED` (default fixed); it is printed, and one worker's
/// sequence of scenarios depends only on it and the worker's number.
@Suite("TCP soak", .serialized)
struct TCPSoakTests {
    /// Workers running scenarios concurrently, each on its own connection.
    static let workers = 48
    /// How much RSS may grow from the end of the warm-up to the end of the
    /// run (everything closed): room for malloc's arenas and caches, far below
    /// what a per-connection leak over thousands of connections would add.
    static let rssGrowthBound = 64 << 20

    @Test(.timeLimit(.minutes(3)))
    func echoServerSurvivesMixedAbuseAndReturnsEveryResource() async throws {
        let environment = ProcessInfo.processInfo.environment
        let seconds = environment["RINGLOOP_SOAK_SECONDS"].flatMap(Int.init) ?? 8
        let seed = environment["RINGLOOP_SOAK_SEED"].flatMap { UInt64($0) } ?? 0x5EED_2026
        print("TCP soak: \(seconds) s, \(Self.workers) workers, seed \(seed) (RINGLOOP_SOAK_SEED to replay)")

        await warmUpRuntime()
        let fdsBefore = fdNames()
        let server = try EventLoop.spawn()
        let client = try EventLoop.spawn()
        let open = Counter(), accepted = Counter()
        let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: server)
        listener.start { connection in
            // Alternate the two ways of reading: a handler, and `inbound`.
            open.increment()
            if accepted.increment() % 2 == 0 {
                connection.setHandler(EchoHandler(onClose: { open.decrement() }))
            } else {
                Task(executorPreference: server) {
                    do {
                        for try await chunk in connection.inbound { try await connection.write(chunk) }
                        try await connection.shutdownOutput()
                    } catch {}
                    await connection.close()
                    open.decrement()
                }
            }
        }
        let address = listener.localAddress

        let start = ContinuousClock.now
        let warmUpEnd = start + .seconds(max(1, seconds / 4))
        let end = start + .seconds(seconds)
        let tally = Tally()
        let rssAfterWarmUp = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<Self.workers {
                group.addTask(executorPreference: client) {
                    var random = SeededGenerator(seed: seed &+ UInt64(worker) &* 0x9E37_79B9_7F4A_7C15)
                    while ContinuousClock.now < end {
                        let scenario = Scenario.allCases[Int(random.next() % UInt64(Scenario.allCases.count))]
                        do {
                            try await scenario.run(against: address, on: client, random: &random)
                            tally.count(scenario)
                        } catch {
                            Issue.record("worker \(worker), seed \(seed): \(scenario) failed: \(error)")
                            return
                        }
                    }
                }
            }
            group.addTask {
                try await Task.sleep(until: warmUpEnd)
                rssAfterWarmUp.set(residentBytes())
            }
            try await group.waitForAll()
        }
        print("TCP soak: \(tally.summary)")

        await listener.close()
        let closed = await eventually(timeout: .seconds(20)) { open.value == 0 }
        #expect(closed, "server connections still open: \(open.value)")
        let drained = try await eventually { try await inFlight(server) == 0 }
        let clientDrained = try await eventually { try await inFlight(client) == 0 }
        #expect(drained && clientDrained, "operations still in flight")
        await client.shutdownGracefully()
        await server.shutdownGracefully()
        #expect(fdNames() == fdsBefore, "descriptors leaked: \(fdNames().subtracting(fdsBefore))")
        let growth = residentBytes() - rssAfterWarmUp.value
        print("TCP soak: RSS after warm-up \(rssAfterWarmUp.value >> 20) MiB, at the end \(residentBytes() >> 20) MiB")
        #expect(growth <= Self.rssGrowthBound, "RSS grew by \(growth >> 20) MiB after warm-up")
        #expect(tally.total > Self.workers, "too few scenarios ran: \(tally.summary)")
    }
}

/// What one client connection does.
private enum Scenario: CaseIterable {
    /// A few messages of random sizes (1 B to 128 KiB), each echoed in full.
    case echo
    /// Sends, half-closes, and reads the whole echo up to the server's EOF.
    case halfClose
    /// Sends, maybe reads a little, then resets (RST) the connection.
    case reset
    /// Starts reading the echo of a large message and cancels the read.
    case cancelledRead
    /// Sends up to 1 MiB while reading the echo slowly (backpressure).
    case slowReader

    func run(against address: SocketAddress, on loop: EventLoop, random: inout SeededGenerator) async throws {
        let connection = try await TCPConnection.connect(to: address, on: loop)
        switch self {
        case .echo:
            for _ in 0..<(1 + random.next() % 4) {
                let message = pattern(1 + Int(random.next() % (128 << 10)), seed: UInt8(truncatingIfNeeded: random.next()))
                try await connection.write(message)
                let echoed = try await readExactly(message.count, from: connection)
                guard echoed == message else { throw SoakFailure("echo of \(message.count) bytes differs (\(echoed.count) back)") }
            }
            await connection.close()
        case .halfClose:
            let message = pattern(Int(random.next() % (256 << 10)), seed: 7)
            try await connection.write(message)
            try await connection.shutdownOutput()
            var echoed: [UInt8] = []
            while let chunk = try await connection.read() { echoed += chunk }
            guard echoed == message else { throw SoakFailure("half-closed echo of \(message.count) bytes: \(echoed.count) back") }
            await connection.close()
        case .reset:
            try await connection.write(pattern(1 + Int(random.next() % (64 << 10))))
            if random.next() % 2 == 0 { _ = try await connection.read() }
            try await connection.abort().get()
        case .cancelledRead:
            let size = 64 << 10 + Int(random.next() % (512 << 10))
            try await connection.write(pattern(size))
            let reader = Task(executorPreference: loop) { try await readExactly(size, from: connection) }
            if random.next() % 2 == 0 { await Task.yield() }
            reader.cancel()
            switch await reader.result {
            case .success(let bytes) where bytes.count == size: break
            case .success(let bytes): throw SoakFailure("cancelled read returned \(bytes.count) of \(size) without an error")
            case .failure(is CancellationError): break
            case .failure(let error): throw error
            }
            await connection.close()
        case .slowReader:
            let message = pattern(256 << 10 + Int(random.next() % (768 << 10)), seed: 3)
            let writer = Task(executorPreference: loop) { try await connection.write(message) }
            var echoed: [UInt8] = []
            while echoed.count < message.count {
                guard let chunk = try await connection.read() else { break }
                echoed += chunk
                try await Task.sleep(for: .microseconds(200))
            }
            try await writer.value
            guard echoed == message else { throw SoakFailure("slow reader got \(echoed.count) of \(message.count) bytes, or different ones") }
            await connection.close()
        }
    }
}

private struct SoakFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Resident set size of this process, from /proc/self/statm.
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
}

/// A counter shared by tasks and callbacks on any thread.
private final class Counter: Sendable {
    private let box = Box(0)
    var value: Int { box.get }
    /// Adds one; returns the value before.
    @discardableResult func increment() -> Int { box.with { $0 += 1; return $0 - 1 } }
    func decrement() { box.with { $0 -= 1 } }
    func set(_ value: Int) { box.with { $0 = value } }
}

/// How many of each scenario completed.
private final class Tally: Sendable {
    private let box = Box([String: Int]())
    func count(_ scenario: Scenario) { box.with { $0["\(scenario)", default: 0] += 1 } }
    var total: Int { box.with { $0.values.reduce(0, +) } }
    var summary: String { box.with { counts in counts.keys.sorted().map { "\($0) \(counts[$0]!)" }.joined(separator: ", ") } }
}
