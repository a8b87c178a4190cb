/// Round-trip times in 1 µs buckets up to 100 ms (slower ones share the last
/// bucket): fixed memory, no allocation per sample.
struct LatencyHistogram {
    static let buckets = 100_000
    private(set) var counts = [Int](repeating: 0, count: LatencyHistogram.buckets + 1)
    private(set) var total = 0

    mutating func record(nanoseconds: UInt64) {
        counts[min(Int(nanoseconds / 1000), LatencyHistogram.buckets)] += 1
        total += 1
    }

    mutating func merge(_ other: LatencyHistogram) {
        for i in counts.indices { counts[i] += other.counts[i] }
        total += other.total
    }

    /// The `p`-quantile (0...1) in microseconds.
    func quantile(_ p: Double) -> Int {
        guard total > 0 else { return 0 }
        let rank = max(1, Int((p * Double(total)).rounded(.up)))
        var seen = 0
        for (micros, count) in counts.enumerated() {
            seen += count
            if seen >= rank { return micros }
        }
        return LatencyHistogram.buckets
    }
}
