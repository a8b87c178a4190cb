import Testing
@testable import RingLoop

/// Deadline arithmetic: whole nanoseconds truncated toward zero, saturating
/// at both ends, the same on both sides of the 64-bit fast path (durations
/// under 2^63 attoseconds, about 9.2 s).
@Suite("Deadline")
struct DeadlineTests {
    /// The reference: nanoseconds from `components`, as the slow path computes them.
    static func reference(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (fromSeconds, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (total, overflow2) = fromSeconds.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow2 { return seconds < 0 ? .min : .max }
        return total
    }

    @Test func nanosecondsAgreeWithTheComponentsOnBothSidesOfTheFastPath() {
        let edge = Int128(Int64.max)
        let durations: [Duration] = [
            .zero, .nanoseconds(1), .nanoseconds(-1), .microseconds(1_500), .milliseconds(-250),
            .seconds(9), .seconds(-9), .seconds(10), .seconds(-10), .seconds(86_400 * 365),
            Duration(attoseconds: edge), Duration(attoseconds: edge + 1), Duration(attoseconds: -edge - 1),
            Duration(attoseconds: -edge - 2), Duration(attoseconds: 999_999_999), Duration(attoseconds: -999_999_999),
            Duration(attoseconds: 1_000_000_001), Duration(attoseconds: -1_000_000_001),
            .seconds(Int64.max), .seconds(Int64.min),
        ]
        for duration in durations {
            #expect(duration.nanoseconds == Self.reference(duration), "\(duration)")
        }
        #expect(Duration(attoseconds: -1_000_000_001).nanoseconds == -1, "truncated toward zero")
        #expect(Duration.seconds(Int64.max).nanoseconds == .max)
        #expect(Duration.seconds(Int64.min).nanoseconds == .min)
    }

    @Test func addingADurationSaturatesAtBothEnds() {
        let start = Deadline(uptimeNanoseconds: 1_000)
        #expect((start + .nanoseconds(500)).uptimeNanoseconds == 1_500)
        #expect((start + .nanoseconds(-400)).uptimeNanoseconds == 600)
        #expect((start + .seconds(-1)).uptimeNanoseconds == 0)
        #expect((start + .seconds(Int64.max)).uptimeNanoseconds == 1_000 + UInt64(Int64.max), "the duration saturates at Int64.max ns")
        #expect((Deadline(uptimeNanoseconds: .max - 5) + .seconds(1)).uptimeNanoseconds == .max)
        #expect((Deadline.distantFuture + .nanoseconds(1)).uptimeNanoseconds == .max)
        #expect((start + .seconds(20)).uptimeNanoseconds == 20_000_001_000)
    }
}
