import Testing
@testable import RingLoop

/// Fire-and-forget timers in the wheel (`TimerWheel.insert(deadline:_:)`),
/// as a plain value driven by a fake clock, mixed with node timers.
@Suite("TimerClosure")
struct TimerClosureTests {
    typealias Probe = TimerWheelTests.Probe
    typealias Log = TimerWheelTests.Log
    static let tick = TimerWheelTests.tick

    /// Counts its deinits: shows when a closure's captures are released.
    final class Capture {
        let released: Box<Int>
        init(_ released: Box<Int>) { self.released = released }
        deinit { released.with { $0 += 1 } }
    }

    /// Pops and fires everything due at `now`, as the loop's tick does.
    static func fireDue(_ wheel: inout TimerWheel, at now: UInt64) {
        let horizon = wheel.sequenceHorizon
        while let due = wheel.popDue(now: Deadline(uptimeNanoseconds: now), horizon: horizon) { due.fire(true) }
    }

    @Test func closuresAndNodesFireTogetherInDeadlineThenSchedulingOrderAcrossLevels() {
        let log = Log()
        var wheel = TimerWheel()
        // Deadlines on several levels; even ids are closures, odd ones nodes,
        // and equal deadlines must keep scheduling order between the kinds.
        let deadlines: [UInt64] = [5 * Self.tick, 1, 300 * Self.tick, 5 * Self.tick, 70_000 * Self.tick, 1, 300 * Self.tick, 9]
        for (id, deadline) in deadlines.enumerated() {
            if id % 2 == 0 {
                wheel.insert(deadline: Deadline(uptimeNanoseconds: deadline)) { log.fired.append((id, true)) }
            } else {
                wheel.insert(Probe(id, at: deadline, log: log))
            }
        }
        #expect(wheel.count == deadlines.count)
        var clock: UInt64 = 0
        for deadline in Set(deadlines).sorted() {
            Self.fireDue(&wheel, at: deadline - 1)
            let firedBefore = log.ids
            #expect(firedBefore.allSatisfy { deadlines[$0] < deadline }, "fired early")
            Self.fireDue(&wheel, at: deadline)
            clock = deadline
        }
        let expected = deadlines.indices.sorted { (deadlines[$0], $0) < (deadlines[$1], $1) }
        #expect(log.ids == expected)
        #expect(clock == deadlines.max())
        #expect(wheel.count == 0)
    }

    @Test func aClosureIsReleasedRightAfterItRunsAndNoBufferGrows() {
        let released = Box(0)
        var wheel = TimerWheel()
        var ran = 0
        do {
            let capture = Capture(released)
            wheel.insert(deadline: Deadline(uptimeNanoseconds: 10)) { withExtendedLifetime(capture) { ran += 1 } }
        }
        #expect(released.get == 0, "the wheel holds the closure")
        Self.fireDue(&wheel, at: 10)
        #expect(ran == 1)
        #expect(released.get == 1)
        let capacity = wheel.bufferCapacity
        for round in 0..<100 {
            wheel.insert(deadline: Deadline(uptimeNanoseconds: 20 + UInt64(round))) { ran += 1 }
            Self.fireDue(&wheel, at: 20 + UInt64(round))
        }
        #expect(ran == 101)
        #expect(wheel.bufferCapacity == capacity, "one timer at a time reuses the same buffers")
    }

    @Test func removeAllHandsBackTheClosuresUnrunAndTheLiveNodes() {
        let released = Box(0)
        let log = Log()
        var wheel = TimerWheel()
        var ran = 0
        for index in 0..<10 {
            let capture = Capture(released)
            // Due (the small heap), in level 0, and far out.
            let deadline: UInt64 = [0, 3 * Self.tick, 1 << 40][index % 3]
            wheel.insert(deadline: Deadline(uptimeNanoseconds: deadline)) { withExtendedLifetime(capture) { ran += 1 } }
        }
        wheel.insert(Probe(100, at: 1 << 41, log: log))
        var removed = Optional(wheel.removeAll())
        #expect(wheel.count == 0)
        #expect(removed?.nodes.count == 1)
        #expect(removed?.nodes.allSatisfy { !$0.isLive } == true)
        #expect(removed?.closures.count == 10)
        #expect(released.get == 0, "released by the caller, once the wheel is consistent")
        removed = nil
        #expect(removed == nil)
        #expect(released.get == 10)
        #expect(ran == 0)
        #expect(log.fired.isEmpty)
    }

    @Test func aSweepOfCancelledNodesKeepsEveryClosure() {
        let log = Log()
        var wheel = TimerWheel()
        var nodes: [Probe] = []
        var closuresRun: [Int] = []
        for id in 0..<3_000 {
            let deadline = 3 * Self.tick + UInt64((id * 7_919) % 500)
            if id % 3 == 0 {
                wheel.insert(deadline: Deadline(uptimeNanoseconds: deadline)) { closuresRun.append(id) }
            } else {
                let node = Probe(id, at: deadline, log: log)
                nodes.append(node)
                wheel.insert(node)
            }
        }
        // Cancelling every node leaves dead entries outnumbering live ones: swept.
        for node in nodes { wheel.cancel(node) }
        #expect(wheel.count == 1_000)
        Self.fireDue(&wheel, at: 4 * Self.tick)
        #expect(log.fired.isEmpty)
        #expect(closuresRun.count == 1_000)
        #expect(Set(closuresRun).count == 1_000)
        #expect(wheel.count == 0)
    }

    @Test func aBurstOfClosuresReturnsItsBuffersOnceFired() {
        var wheel = TimerWheel()
        var ran = 0
        let count = TimerWheel.burstEntries + 100
        for index in 0..<count {
            wheel.insert(deadline: Deadline(uptimeNanoseconds: UInt64(index % 200) * Self.tick)) { ran += 1 }
        }
        #expect(wheel.bufferCapacity >= count)
        Self.fireDue(&wheel, at: 300 * Self.tick)
        #expect(ran == count)
        #expect(wheel.bufferCapacity == 0)
    }
}
