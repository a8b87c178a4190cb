#if canImport(Glibc)
import Glibc
#endif

/// A point in time on the monotonic clock, used for timers and wait deadlines.
///
/// Deadlines are absolute, so a timeout computed once keeps its meaning across
/// retries: `let d = Deadline.now() + .seconds(2)`.
public struct Deadline: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Nanoseconds on `CLOCK_MONOTONIC`.
    public var uptimeNanoseconds: UInt64

    @inlinable
    public init(uptimeNanoseconds: UInt64) { self.uptimeNanoseconds = uptimeNanoseconds }

    /// The current time.
    @inlinable
    public static func now() -> Deadline {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Deadline(uptimeNanoseconds: UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec))
    }

    /// A deadline that never passes.
    ///
    /// Computed and inlinable rather than a `static let`: a global read from
    /// another module goes through its lazy-initialization check
    /// (`swift_once`) on every wait, and waits compare against it.
    @inlinable
    public static var distantFuture: Deadline { Deadline(uptimeNanoseconds: UInt64.max) }

    /// A deadline that has always passed.
    public static let distantPast = Deadline(uptimeNanoseconds: 0)

    public static func < (lhs: Deadline, rhs: Deadline) -> Bool {
        lhs.uptimeNanoseconds < rhs.uptimeNanoseconds
    }

    /// `deadline + duration`, saturating instead of overflowing.
    public static func + (lhs: Deadline, rhs: Duration) -> Deadline {
        let ns = rhs.nanoseconds
        if ns >= 0 {
            let (sum, overflow) = lhs.uptimeNanoseconds.addingReportingOverflow(UInt64(ns))
            return Deadline(uptimeNanoseconds: overflow ? .max : sum)
        }
        let magnitude = UInt64(-ns)
        return Deadline(uptimeNanoseconds: lhs.uptimeNanoseconds > magnitude ? lhs.uptimeNanoseconds - magnitude : 0)
    }

    /// The time from `rhs` to `lhs` (negative when `lhs` is earlier).
    public static func - (lhs: Deadline, rhs: Deadline) -> Duration {
        if lhs >= rhs { return .nanoseconds(Int64(clamping: lhs.uptimeNanoseconds - rhs.uptimeNanoseconds)) }
        return .nanoseconds(-Int64(clamping: rhs.uptimeNanoseconds - lhs.uptimeNanoseconds))
    }

    public var description: String { "Deadline(\(uptimeNanoseconds)ns)" }
}

extension Duration {
    /// The duration in whole nanoseconds (truncated toward zero), saturating
    /// at `Int64`'s range.
    ///
    /// Durations under 9.2 s either way, nearly every timer's, take one
    /// 64-bit division: `components` divides the 128-bit count of
    /// attoseconds, which was 3% of arming a million timers (perf).
    @usableFromInline
    var nanoseconds: Int64 {
        if let small = Int64(exactly: attoseconds) { return small / 1_000_000_000 }
        let (seconds, attoseconds) = components
        let (fromSeconds, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (total, overflow2) = fromSeconds.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow2 { return seconds < 0 ? .min : .max }
        return total
    }
}
