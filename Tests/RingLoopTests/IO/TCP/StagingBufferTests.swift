import Testing
@testable import RingLoop

@Suite("StagingBuffer")
struct StagingBufferTests {
    private func append(_ staging: inout StagingBuffer, _ bytes: [UInt8], sendInFlight: Bool = false) -> Int {
        bytes.withUnsafeBytes { staging.append($0.baseAddress!, count: $0.count, sendInFlight: sendInFlight) }
    }

    private func read(_ staging: borrowing StagingBuffer, at offset: Int, count: Int) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: staging.pointer(at: offset), count: count))
    }

    @Test func appendedBytesAreReadableAtTheirOffsets() {
        var staging = StagingBuffer(limit: 64 * 1024)
        check(append(&staging, [1, 2, 3]) == 0)
        check(append(&staging, [4, 5]) == 3)
        check(read(staging, at: 0, count: 5) == [1, 2, 3, 4, 5])
        check(staging.capacity == StagingBuffer.minimumCapacity)
    }

    @Test func growingWhileASendIsInFlightRetiresTheOldBufferUntilTheSendEnds() {
        var staging = StagingBuffer(limit: 64 * 1024)
        _ = append(&staging, [UInt8](repeating: 1, count: 4000))
        _ = append(&staging, [UInt8](repeating: 2, count: 4000), sendInFlight: true)
        check(staging.retiredCount == 1)
        check(read(staging, at: 3999, count: 2) == [1, 2], "the bytes moved with the buffer")
        staging.sendFinished()
        check(staging.retiredCount == 0)
        _ = append(&staging, [UInt8](repeating: 3, count: 10_000), sendInFlight: false)
        check(staging.retiredCount == 0, "no send in flight: the old buffer is freed at once")
    }

    private func prepend(_ staging: inout StagingBuffer, _ bytes: [UInt8], firstLive: Int) -> (offset: Int, moved: Int) {
        bytes.withUnsafeBytes { staging.prepend($0.baseAddress!, count: $0.count, firstLive: firstLive) }
    }

    @Test func prependedBytesGoIntoTheSentSpaceBeforeTheLiveOnesWhenItIsLargeEnough() {
        var staging = StagingBuffer(limit: 64 * 1024)
        _ = append(&staging, Array(0..<10))
        // Bytes 0..<6 were sent; 6..<10 are live.
        let placed = prepend(&staging, [100, 101, 102], firstLive: 6)
        check(placed.offset == 3 && placed.moved == 0)
        check(read(staging, at: 3, count: 7) == [100, 101, 102, 6, 7, 8, 9])
        check(staging.used == 10)
    }

    @Test func prependingMovesTheLiveBytesUpWhenTheSentSpaceIsTooSmall() {
        var staging = StagingBuffer(limit: 64 * 1024)
        _ = append(&staging, Array(0..<10))
        let placed = prepend(&staging, [100, 101, 102, 103], firstLive: 2)
        check(placed.offset == 0 && placed.moved == 2, "the live bytes moved from 2 to 4")
        check(read(staging, at: 0, count: 12) == [100, 101, 102, 103] + Array(2..<10))
        check(staging.used == 12)
        // Growing on the way: every byte keeps its order.
        let big = [UInt8](repeating: 9, count: 10_000)
        let second = prepend(&staging, big, firstLive: 0)
        check(second.offset == 0 && second.moved == 10_000)
        check(read(staging, at: 10_000, count: 12) == [100, 101, 102, 103] + Array(2..<10))
        check(staging.used == 10_012)
    }

    @Test func prependingWithNothingLiveAppendsWhereTheBufferIsUsedUpTo() {
        var staging = StagingBuffer(limit: 64 * 1024)
        let empty = prepend(&staging, [1, 2], firstLive: 0)
        check(empty.offset == 0 && empty.moved == 0 && staging.used == 2)
        _ = append(&staging, Array(repeating: 5, count: 6))
        // Everything sent (firstLive == used): the new bytes end where the buffer is used up to.
        let placed = prepend(&staging, [7, 7, 7], firstLive: staging.used)
        check(placed.offset == 5 && placed.moved == 0 && staging.used == 8)
    }

    @Test func compactionMovesLiveBytesOnlyWhenItFreesAtLeastAsMuch() {
        var staging = StagingBuffer(limit: 64 * 1024)
        _ = append(&staging, Array(0..<10))
        check(staging.compact(firstLive: 3) == 0, "7 live bytes, 3 dead: not worth moving")
        check(staging.compact(firstLive: 6) == 6)
        check(staging.used == 4 && read(staging, at: 0, count: 4) == [6, 7, 8, 9])
    }

    @Test func drainingMakesTheWholeBufferFreeSpace() {
        var staging = StagingBuffer(limit: 64 * 1024)
        _ = append(&staging, [1, 2, 3])
        staging.drained()
        check(staging.used == 0)
        check(append(&staging, [9]) == 0)
    }

    @Test func aDrainedBufferLargerThanTheMinimumIsFreed() {
        var staging = StagingBuffer(limit: 64 * 1024)
        _ = append(&staging, [UInt8](repeating: 1, count: 64 * 1024))
        check(staging.capacity >= 64 * 1024)
        staging.drained()
        check(staging.capacity == 0 && staging.base == nil)
    }

    @Test func aBurstAfterADrainStartsAtThePreviousSize() {
        var staging = StagingBuffer(limit: 64 * 1024)
        for _ in 0..<4 { _ = append(&staging, [UInt8](repeating: 1, count: 16 * 1024), sendInFlight: true) }
        staging.sendFinished()
        let grown = staging.capacity
        staging.drained()
        check(staging.capacity == 0)
        _ = append(&staging, [UInt8](repeating: 2, count: 16 * 1024))
        check(staging.capacity == grown, "no regrowth (and copying) burst after burst")
    }

    @Test func aSmallDrainedBufferIsKeptForTheNextWrite() {
        var staging = StagingBuffer(limit: 64 * 1024)
        _ = append(&staging, [1, 2, 3])
        let base = staging.base
        staging.drained()
        check(staging.capacity == StagingBuffer.minimumCapacity && staging.base == base)
    }

    @Test func doublingStopsAtTheLimit() {
        let limit = 64 * 1024
        var staging = StagingBuffer(limit: limit)
        let chunk = [UInt8](repeating: 7, count: 3000)
        var maximum = 0
        // A send in flight all along: nothing can be compacted or freed.
        for _ in 0..<100 {
            _ = append(&staging, chunk, sendInFlight: true)
            check(staging.capacity <= max(limit, staging.used + chunk.count), "capacity \(staging.capacity) with \(staging.used) used")
            maximum = max(maximum, staging.capacity)
        }
        staging.sendFinished()
        check(staging.used == 300_000 && maximum < 2 * 300_000)
    }
}
