import Testing
@testable import RingLoop

/// The wheel's hand-managed slot buffers, as a plain value: growth, bulk
/// reservation, filtering, the swap with the scratch buffer, and freeing.
/// Entries here own nothing (node address 0x10 is never dereferenced).
@Suite("TimerSlots")
struct TimerSlotsTests {
    typealias Entry = TimerHeap.Entry

    static func entry(_ deadline: UInt64) -> Entry {
        Entry(deadline: deadline, sequence: deadline, node: Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: 0x10)!))
    }

    static func deadlines(_ buffer: TimerSlots.Buffer) -> [UInt64] {
        buffer.entries.map(\.deadline)
    }

    @Test func appendsGrowByDoublingFromTheFirstCapacityAndKeepOrder() {
        var slots = TimerSlots(count: 4)
        #expect(slots.capacity == 0, "no block until the first append")
        for deadline in 0..<UInt64(TimerSlots.firstCapacity) { slots[2].append(Self.entry(deadline)) }
        #expect(slots[2].capacity == TimerSlots.firstCapacity)
        slots[2].append(Self.entry(1_000))
        #expect(slots[2].capacity == 2 * TimerSlots.firstCapacity)
        #expect(Self.deadlines(slots[2]) == Array(0..<UInt64(TimerSlots.firstCapacity)) + [1_000])
        #expect(slots[0].isEmpty && slots[1].isEmpty && slots[3].isEmpty)
        #expect(slots.capacity == 2 * TimerSlots.firstCapacity)
    }

    @Test func reserveMakesRoomForACascadeAtOnce() {
        var slots = TimerSlots(count: 2)
        slots[1].append(Self.entry(1))
        slots[1].reserve(500)
        let capacity = slots[1].capacity
        #expect(capacity >= 501)
        for deadline in 2...501 { slots[1].append(Self.entry(UInt64(deadline))) }
        #expect(slots[1].capacity == capacity, "no growth after the reservation")
        #expect(Self.deadlines(slots[1]) == Array(1...501))
        slots[1].reserve(0)
        #expect(slots[1].capacity == capacity)
    }

    @Test func removeAllWhereKeepsTheRestInOrder() {
        var slots = TimerSlots(count: 1)
        for deadline in 0..<100 { slots[0].append(Self.entry(UInt64(deadline))) }
        slots[0].removeAll { $0.deadline % 3 == 0 }
        #expect(slots[0].count == 66)
        #expect(Self.deadlines(slots[0]) == (0..<100).filter { $0 % 3 != 0 }.map(UInt64.init))
        slots[0].removeAll()
        #expect(slots[0].isEmpty && slots[0].capacity > 0, "emptied, the block kept")
    }

    @Test func aSlotSwapsWithTheScratchBufferAndGetsItsBlockBack() {
        var slots = TimerSlots(count: 3)
        slots.scratch.reserve(64)
        let scratchCapacity = slots.scratch.capacity
        for deadline in 0..<10 { slots[1].append(Self.entry(UInt64(deadline))) }
        let slotCapacity = slots[1].capacity
        slots.swapWithScratch(1)
        #expect(Self.deadlines(slots.scratch) == Array(0..<10))
        #expect(slots[1].isEmpty && slots[1].capacity == scratchCapacity, "the slot reuses the scratch's block")
        #expect(slots.scratch.capacity == slotCapacity)
        slots.scratch.removeAll()
        slots.free(slots.count)
        #expect(slots.scratch.capacity == 0)
        slots.free(1)
        #expect(slots.capacity == 0)
    }
}
