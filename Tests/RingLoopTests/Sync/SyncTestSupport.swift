import Foundation
import Testing
@testable import RingLoop

/// Timeouts still armed on the shared timer thread (each test ends with none).
var pendingTimeouts: Int { TimeoutTimer.shared.pendingCount }

/// Whether `body` throws `CancellationError`.
func throwsCancellation(_ body: () async throws -> Void) async -> Bool {
    do {
        try await body()
        return false
    } catch is CancellationError {
        return true
    } catch {
        return false
    }
}

/// Whether `body` throws `RingLoopError.timedOut`.
func throwsTimeout(_ body: () async throws -> Void) async -> Bool {
    do {
        try await body()
        return false
    } catch RingLoopError.timedOut {
        return true
    } catch {
        return false
    }
}

/// The outcome of a waiting task, as tests inspect it.
enum WaitOutcome: Equatable, Sendable {
    case succeeded
    case cancelled
    case timedOut
    case closed
    case other(String)

    init(catching body: () async throws -> Void) async {
        do {
            try await body()
            self = .succeeded
        } catch is CancellationError {
            self = .cancelled
        } catch RingLoopError.timedOut {
            self = .timedOut
        } catch RingLoopError.closed {
            self = .closed
        } catch {
            self = .other("\(error)")
        }
    }
}

/// A small deterministic generator (SplitMix64) so "random" cancellations
/// repeat from run to run.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
