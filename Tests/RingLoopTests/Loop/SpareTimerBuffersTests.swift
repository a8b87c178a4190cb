import Testing
@testable import RingLoop

/// The wheel's spare buffers as a plain value: best fit, bounds, trimming.
@Suite("SpareTimerBuffers")
struct SpareTimerBuffersTests {
    typealias Entry = TimerHeap.Entry

    static func buffer(capacity: Int) -> ContiguousArray<Entry> {
        var buffer = ContiguousArray<Entry>()
        buffer.reserveCapacity(capacity)
        return buffer
    }

    @Test func handsOutTheSmallestBufferThatFits() {
        var spares = SpareTimerBuffers()
        var given: [Int] = []
        for capacity in [512, 64, 2_048, 128] {
            var buffer = Self.buffer(capacity: capacity)
            given.append(buffer.capacity)
            spares.give(&buffer)
            #expect(buffer.capacity == 0)
        }
        #expect(spares.count == 4)
        #expect(spares.capacity == given.reduce(0, +))
        let taken = spares.take(atLeast: 100)
        #expect(taken?.capacity == given[3])
        #expect(taken?.isEmpty == true)
        #expect(spares.take(atLeast: 100)?.capacity == given[0])
        #expect(spares.take(atLeast: 10_000) == nil)
        #expect(spares.count == 2)
        #expect(spares.capacity == given[1] + given[2])
    }

    @Test func aGivenBufferIsEmptiedAndOneWithoutCapacityIsNotKept() {
        var spares = SpareTimerBuffers()
        var none = ContiguousArray<Entry>()
        spares.give(&none)
        #expect(spares.count == 0)
        var used = Self.buffer(capacity: 32)
        let node = TimerNode(deadline: .distantPast)
        let unmanaged = Unmanaged.passRetained(node)
        used.append(Entry(deadline: 1, sequence: 0, node: unmanaged))
        spares.give(&used)
        unmanaged.release()
        #expect(spares.take(atLeast: 1)?.isEmpty == true)
    }

    @Test func keepsAtMostMaxBuffersPreferringTheLargest() {
        var spares = SpareTimerBuffers()
        for capacity in 1...(SpareTimerBuffers.maxBuffers + 10) {
            var buffer = Self.buffer(capacity: capacity * 16)
            spares.give(&buffer)
        }
        #expect(spares.count == SpareTimerBuffers.maxBuffers)
        // A buffer smaller than all of a full set is freed, not kept.
        let before = spares.capacity
        var tiny = Self.buffer(capacity: 1)
        spares.give(&tiny)
        #expect(tiny.capacity == 0)
        #expect(spares.count == SpareTimerBuffers.maxBuffers)
        #expect(spares.capacity == before)
        // The ten smallest were dropped.
        #expect(spares.take(atLeast: 1)!.capacity >= 11 * 16)
    }

    @Test func trimFreesTheLargestFirst() {
        var spares = SpareTimerBuffers()
        var capacities: [Int] = []
        for capacity in [100, 10_000, 1_000] {
            var buffer = Self.buffer(capacity: capacity)
            capacities.append(buffer.capacity)
            spares.give(&buffer)
        }
        spares.trim(to: capacities[0] + capacities[2])
        #expect(spares.count == 2)
        #expect(spares.take(atLeast: 5_000) == nil)
        spares.trim(to: 0)
        #expect(spares.count == 0)
        #expect(spares.capacity == 0)
    }
}
