import Foundation
import Testing
@testable import RingLoop

/// Open file descriptors of this process (tests compare before/after).
func openFDCount() -> Int {
    _ = sanitizerSymbolizerStarted
    return (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

/// Under a sanitizer, the first report (even a suppressed one: matching a
/// suppression needs function names) starts llvm-symbolizer with two pipes
/// to it, which would show up as leaked descriptors in whichever test was
/// running. Symbolizing one address before any descriptor is counted starts
/// it up front, so every baseline includes it. Without a sanitizer the
/// symbol is absent and this does nothing.
let sanitizerSymbolizerStarted: Bool = {
    typealias Symbolize = @convention(c) (UnsafeRawPointer?, UnsafePointer<CChar>?, UnsafeMutablePointer<CChar>?, Int) -> Void
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__sanitizer_symbolize_pc") else { return false }
    var text = [CChar](repeating: 0, count: 256)
    unsafeBitCast(symbol, to: Symbolize.self)(UnsafeRawPointer(symbol), "%p %F %L", &text, text.count)
    return true
}()

/// Live threads of this process.
func threadCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1
}

/// Polls `condition` until it holds or `timeout` passes; whether it held.
/// The one polling helper of the tests: a test waits for a state (a count, a
/// flag) this way, never by sleeping a while. This form blocks the calling
/// thread between polls (for code that is not async, such as a pool job);
/// disfavored, so that async code gets the suspending form below.
@_disfavoredOverload
func eventually(timeout: Duration = .seconds(5), _ condition: () -> Bool) -> Bool {
    let deadline = Deadline.now() + timeout
    while Deadline.now() < deadline {
        if condition() { return true }
        usleep(1_000)
    }
    return condition()
}

/// Polls `condition` until it holds or `timeout` passes; whether it held.
/// The async form of the same helper: it suspends between polls, so the
/// condition may await (e.g. read a count on the loop thread).
func eventually(timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Deadline.now() + timeout
    while Deadline.now() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return try await condition()
}

/// Runs `body` with a fresh loop and shuts it down afterwards, checking that no
/// fd leaked.
@discardableResult
func withLoop<T>(_ body: (EventLoop) async throws -> T) async throws -> T {
    await warmUpRuntime()
    let fdsBefore = openFDCount()
    let loop = try EventLoop.spawn()
    do {
        let value = try await body(loop)
        let inFlight = try await loop.submit { loop.inFlightOperations }.get()
        #expect(inFlight == 0, "operations still in flight at the end of the test")
        await loop.shutdownGracefully()
        #expect(openFDCount() == fdsBefore, "file descriptors leaked")
        return value
    } catch {
        await loop.shutdownGracefully()
        throw error
    }
}

/// A thread-safe box for test bookkeeping.
final class Box<T>: @unchecked Sendable {
    // Safe to share: every access goes through `lock`.
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func with<R>(_ body: (inout T) -> R) -> R {
        lock.lock(); defer { lock.unlock() }
        return body(&value)
    }
    var get: T { with { $0 } }
}

/// `future.get()` as a free function: `#expect(try await future.get() == x)`
/// trips the macro's decomposition of member calls; `value(of:)` does not.
func value<T>(of future: Future<T>) async throws -> T { try await future.get() }

/// The runtime opens a few descriptors lazily and keeps them (Dispatch opens a
/// second timerfd the first time a task on a custom executor sleeps); trigger
/// that once before counting fds.
func warmUpRuntime() async {
    guard warmedUp.with({ let was = $0; $0 = true; return !was }) else { return }
    if let loop = try? EventLoop.spawn() {
        _ = try? await Task(executorPreference: loop) {
            try await Task.sleep(for: .milliseconds(2))
            try await Task.sleep(until: .now + .milliseconds(2), clock: .suspending)
        }.value
        await loop.shutdownGracefully()
    }
    try? await Task.sleep(for: .milliseconds(2))
    try? await Task.sleep(until: .now + .milliseconds(2), clock: .suspending)
}

private let warmedUp = Box(false)

/// `#expect` for a condition that mutates a value under test (the macro's
/// expansion cannot call a mutating method on a captured variable).
func check(_ condition: Bool, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(condition, comment, sourceLocation: sourceLocation)
}
