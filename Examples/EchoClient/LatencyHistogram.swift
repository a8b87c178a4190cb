/// Round-trip times in microseconds, log-linear: exact below 1 ms, then 512
/// buckets per power of two (under 0.2% error) up to about 17 minutes. Fixed
/// memory, no allocation per sample.
struct LatencyHistogram {
    private static let subBucketBits = 9
    private static let subBuckets = 1 << subBucketBits
    static let bucketCount = 24 * subBuckets
    private(set) var counts = [Int](repeating: 0, count: LatencyHistogram.bucketCount)
    private(set) var total = 0

    /// Bucket of `micros`: `shift * 512 + (micros >> shift)`, where `shift`
    /// keeps `micros >> shift` below 1024 (values under 1024 map to themselves).
    private static func bucket(_ micros: UInt64) -> Int {
        let magnitude = 64 - micros.leadingZeroBitCount
        let shift = max(0, magnitude - (subBucketBits + 1))
        return min(shift * subBuckets + Int(micros >> UInt64(shift)), bucketCount - 1)
    }

    /// The smallest value in `bucket`, in microseconds.
    private static func value(_ bucket: Int) -> Int {
        let shift = max(0, bucket / subBuckets - 1)
        return (bucket - shift * subBuckets) << shift
    }

    mutating func record(nanoseconds: UInt64) {
        counts[LatencyHistogram.bucket(nanoseconds / 1000)] += 1
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
        for (bucket, count) in counts.enumerated() {
            seen += count
            if seen >= rank { return LatencyHistogram.value(bucket) }
        }
        return LatencyHistogram.value(LatencyHistogram.bucketCount - 1)
    }
}
