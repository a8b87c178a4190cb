import Testing
@testable import RingLoop

extension TimerWheel.Due {
    /// The node, in tests that schedule only nodes.
    var node: TimerNode {
        guard case .node(let node) = self else { preconditionFailure("a closure timer where a node was expected") }
        return node
    }

    /// Fires the timer as the loop's tick does.
    func fire(_ fired: Bool) {
        switch self {
        case .node(let node): node.fire(fired)
        case .closure(let body): body()
        }
    }
}

/// The timing wheel as a plain value, driven by a fake clock: no loop, no sleeping.
@Suite("TimerWheel")
struct TimerWheelTests {
    static let tick: UInt64 = 1 << TimerWheel.tickShift

    /// A timer that records its firing in a shared log.
    final class Probe: TimerNode {
        let id: Int
        let log: Log
        init(_ id: Int, at nanoseconds: UInt64, log: Log) {
            self.id = id
            self.log = log
            super.init(deadline: Deadline(uptimeNanoseconds: nanoseconds))
        }
        override func fire(_ fired: Bool) { log.fired.append((id, fired)) }
        override func didCancel() { log.cancelled.append(id) }
    }

    final class Log {
        var fired: [(Int, Bool)] = []
        var cancelled: [Int] = []
        var ids: [Int] { fired.map(\.0) }
    }

    /// Pops and fires everything due at `now` (like the loop's tick), returning the ids.
    @discardableResult
    static func fireDue(_ wheel: inout TimerWheel, at now: UInt64, log: Log) -> [Int] {
        let before = log.fired.count
        let horizon = wheel.sequenceHorizon
        while let due = wheel.popDue(now: Deadline(uptimeNanoseconds: now), horizon: horizon) {
            #expect(due.node.deadline.uptimeNanoseconds <= now, "fired early")
            due.fire(true)
        }
        return Array(log.ids[before...])
    }

    /// Deadlines on every level boundary (and one nanosecond either side).
    static var boundaryDeadlines: [UInt64] {
        var deadlines: [UInt64] = [0, 1, tick - 1, tick, tick + 1]
        for level in 1..<TimerWheel.levels {
            let span = tick << UInt64(level * TimerWheel.slotBits)
            deadlines += [span - 1, span, span + 1, 2 * span - 1, 2 * span + 1]
        }
        return deadlines
    }

    @Test func timersAcrossEveryLevelBoundaryFireInDeadlineOrderAndNeverEarly() {
        let log = Log()
        var wheel = TimerWheel()
        let deadlines = Self.boundaryDeadlines.filter { $0 < UInt64.max / 2 }
        for (id, deadline) in deadlines.enumerated().reversed() {
            wheel.insert(Probe(id, at: deadline, log: log))
        }
        #expect(wheel.count == deadlines.count)
        // Walk the clock: at every step, exactly the timers due so far have fired.
        var clock: UInt64 = 0
        for deadline in deadlines.sorted() {
            if deadline > 0 {
                Self.fireDue(&wheel, at: deadline - 1, log: log)
                #expect(log.fired.count == deadlines.filter { $0 < deadline }.count)
            }
            clock = deadline
            Self.fireDue(&wheel, at: clock, log: log)
            #expect(log.fired.count == deadlines.filter { $0 <= deadline }.count)
            #expect(wheel.count == deadlines.count - log.fired.count)
        }
        let firedDeadlines = log.ids.map { deadlines[$0] }
        #expect(firedDeadlines == deadlines.sorted())
        #expect(wheel.count == 0)
    }

    @Test func nextDeadlineNeverPassesTheEarliestTimer() {
        let log = Log()
        var wheel = TimerWheel(now: Deadline(uptimeNanoseconds: 5 * Self.tick))
        let deadlines: [UInt64] = [7 * Self.tick + 3, 900 * Self.tick, 300_000 * Self.tick + 9, 1 << 50]
        for (id, deadline) in deadlines.enumerated() { wheel.insert(Probe(id, at: deadline, log: log)) }
        var now = 5 * Self.tick
        var steps = 0
        // Sleep until each reported deadline, like the loop: every timer fires,
        // none early, with a bounded number of wakeups (cascades included).
        while let next = wheel.nextDeadline(), steps < 100 {
            let earliestPending = deadlines[log.fired.count]
            #expect(next.uptimeNanoseconds <= earliestPending)
            now = max(now, next.uptimeNanoseconds)
            Self.fireDue(&wheel, at: now, log: log)
            steps += 1
        }
        #expect(log.ids == [0, 1, 2, 3])
        #expect(steps < 4 * TimerWheel.levels)
    }

    @Test func equalDeadlinesFireInSchedulingOrderEvenAcrossCascades() {
        let log = Log()
        var wheel = TimerWheel()
        let far: UInt64 = 5_000 * Self.tick + 17
        // The first three reach the far slot through cascades; the last three
        // are scheduled after the wheel has moved close and land straight in
        // the heap. Scheduling order wins among equal deadlines.
        for id in 0..<3 { wheel.insert(Probe(id, at: far, log: log)) }
        wheel.insert(Probe(10, at: far - 1, log: log))
        Self.fireDue(&wheel, at: far - 1, log: log)
        #expect(log.ids == [10])
        for id in 3..<6 { wheel.insert(Probe(id, at: far, log: log)) }
        Self.fireDue(&wheel, at: far, log: log)
        #expect(log.ids == [10, 0, 1, 2, 3, 4, 5])
    }

    @Test func farFutureAndMaximumDeadlinesStayPendingAndDrainOnRemoveAll() {
        let log = Log()
        var wheel = TimerWheel(now: Deadline(uptimeNanoseconds: 1_000_000))
        wheel.insert(Probe(0, at: UInt64.max, log: log))
        wheel.insert(Probe(1, at: UInt64.max - 1, log: log))
        wheel.insert(Probe(2, at: 1 << 62, log: log))
        Self.fireDue(&wheel, at: 1 << 61, log: log)
        #expect(log.fired.isEmpty)
        #expect(wheel.count == 3)
        Self.fireDue(&wheel, at: UInt64.max - 1, log: log)
        #expect(log.ids == [2, 1])
        let rest = wheel.removeAll().nodes
        #expect(rest.count == 1)
        #expect(rest.allSatisfy { !$0.isLive })
        #expect(wheel.count == 0)
    }

    @Test func cancelWorksForEveryPlaceATimerCanBe() {
        let log = Log()
        var wheel = TimerWheel()
        let inHeap = Probe(0, at: 10, log: log)               // tick 0: straight into the heap
        let level0 = Probe(1, at: 3 * Self.tick, log: log)
        let level2 = Probe(2, at: 70 * 64 * Self.tick, log: log)
        let sameSlotA = Probe(3, at: 5 * Self.tick + 1, log: log)
        let sameSlotB = Probe(4, at: 5 * Self.tick + 2, log: log)
        let sameSlotC = Probe(5, at: 5 * Self.tick + 3, log: log)
        let neverInserted = Probe(6, at: 1, log: log)
        for node in [inHeap, level0, level2, sameSlotA, sameSlotB, sameSlotC] { wheel.insert(node) }
        #expect(wheel.count == 6)

        let cancelledInHeap = wheel.cancel(inHeap)
        #expect(cancelledInHeap)
        let cancelledLevel0 = wheel.cancel(level0)
        #expect(cancelledLevel0)
        let cancelledLevel2 = wheel.cancel(level2)
        #expect(cancelledLevel2)
        let cancelledSameSlotB = wheel.cancel(sameSlotB)  // middle of a slot's list
        #expect(cancelledSameSlotB)
        #expect(wheel.count == 2)
        let cancelledLevel0Again = wheel.cancel(level0)  // twice: no effect
        #expect(!cancelledLevel0Again)
        let cancelledNeverInserted = wheel.cancel(neverInserted)  // before it reaches the wheel
        #expect(cancelledNeverInserted)
        #expect(wheel.count == 2)
        #expect(log.cancelled == [0, 1, 2, 4, 6])

        // Cascaded into the heap, then cancelled there.
        Self.fireDue(&wheel, at: 5 * Self.tick + 1, log: log)
        #expect(log.ids == [3])
        let cancelledSameSlotC = wheel.cancel(sameSlotC)
        #expect(cancelledSameSlotC)
        #expect(wheel.count == 0)
        Self.fireDue(&wheel, at: UInt64.max, log: log)
        #expect(log.ids == [3])
        // After firing: no effect.
        let cancelledSameSlotA = wheel.cancel(sameSlotA)
        #expect(!cancelledSameSlotA)
        let next = wheel.nextDeadline()
        #expect(next == nil)
    }

    @Test func cancellingEveryOtherTimerKeepsTheCountExact() {
        let log = Log()
        var wheel = TimerWheel()
        var nodes: [Probe] = []
        for id in 0..<10_000 {
            let node = Probe(id, at: UInt64(id) * 977 * 1_000, log: log)
            nodes.append(node)
            wheel.insert(node)
        }
        for node in nodes where node.id % 2 == 1 { wheel.cancel(node) }
        #expect(wheel.count == 5_000)
        Self.fireDue(&wheel, at: 5_000 * 977 * 1_000, log: log)
        #expect(log.ids == Array(stride(from: 0, through: 5_000, by: 2)))
        #expect(wheel.count == 5_000 - log.fired.count)
        Self.fireDue(&wheel, at: UInt64.max, log: log)
        #expect(log.fired.count == 5_000)
        #expect(wheel.count == 0)
    }

    @Test func aTimerScheduledWhileFiringWaitsForTheNextRoundEvenIfDue() {
        let log = Log()
        var wheel = TimerWheel()
        wheel.insert(Probe(0, at: 100, log: log))
        wheel.insert(Probe(1, at: 100, log: log))
        let horizon = wheel.sequenceHorizon
        let now = Deadline(uptimeNanoseconds: 200)
        let first = wheel.popDue(now: now, horizon: horizon)
        first?.fire(true)
        // Re-scheduling from the firing callback, at a deadline already due.
        wheel.insert(Probe(2, at: 150, log: log))
        while let node = wheel.popDue(now: now, horizon: horizon) { node.fire(true) }
        #expect(log.ids == [0, 1])
        #expect(wheel.count == 1)
        Self.fireDue(&wheel, at: 200, log: log)
        #expect(log.ids == [0, 1, 2])
    }

    @Test func reschedulingFromAFiringTimerAcrossLevelsKeepsFiring() {
        let log = Log()
        var wheel = TimerWheel()
        var now: UInt64 = 0
        // Each round re-arms one timer at a growing delay, from "inside" the
        // previous firing: 1 ns up to days (level 5).
        var delay: UInt64 = 1
        var id = 0
        var steps = 0
        wheel.insert(Probe(id, at: now + delay, log: log))
        while id < 30, steps < 1_000 {
            steps += 1
            guard let next = wheel.nextDeadline() else { break }
            now = max(now, next.uptimeNanoseconds)
            let fired = Self.fireDue(&wheel, at: now, log: log)
            if !fired.isEmpty {
                id += 1
                delay = delay * 3 + 1
                wheel.insert(Probe(id, at: now + delay, log: log))
            }
        }
        #expect(log.ids == Array(0..<30))
        #expect(wheel.count == 1)
        _ = wheel.removeAll()
    }
}

extension TimerWheelTests {
    @Test func massCancellationIsSweptAndTheSurvivorsStillFire() {
        let log = Log()
        var wheel = TimerWheel()
        var nodes: [Probe] = []
        // Spread over every level, so the sweep visits slots, and a few in the heap.
        for id in 0..<4_000 {
            let node = Probe(id, at: UInt64(id) &* 0x9E37_79B9_7F4A_7C15 >> 8, log: log)
            nodes.append(node)
            wheel.insert(node)
        }
        for node in nodes where node.id % 4 != 0 { wheel.cancel(node) }
        #expect(wheel.count == 1_000)
        #expect(log.cancelled.count == 3_000)
        Self.fireDue(&wheel, at: UInt64.max, log: log)
        #expect(Set(log.ids) == Set(stride(from: 0, to: 4_000, by: 4)))
        let deadlines = log.ids.map { nodes[$0].deadline }
        #expect(deadlines == deadlines.sorted())
        #expect(wheel.count == 0)
    }
}

extension TimerWheelTests {
    /// Thousands of timers in one tick drain as one sorted run; cancelling
    /// them while the run is half fired, and a sweep in the middle of it,
    /// keeps the order and the count exact.
    @Test func aCrowdedTickFiresInOrderWhileItsTimersAreCancelledAndSwept() {
        let log = Log()
        var wheel = TimerWheel()
        var nodes: [Probe] = []
        // 6,000 timers in tick 3, deadlines repeating (scheduling order breaks ties).
        for id in 0..<6_000 {
            let node = Probe(id, at: 3 * Self.tick + UInt64((id * 7_919) % 500), log: log)
            nodes.append(node)
            wheel.insert(node)
        }
        let now = Deadline(uptimeNanoseconds: 4 * Self.tick)
        let horizon = wheel.sequenceHorizon
        for _ in 0..<1_000 { wheel.popDue(now: now, horizon: horizon)?.fire(true) }
        #expect(log.fired.count == 1_000)
        // Cancel two in three live timers: more than half the entries die,
        // so the wheel sweeps the run too.
        let unfired = nodes.filter(\.isLive)
        for node in unfired where node.id % 3 != 0 { wheel.cancel(node) }
        let survivors = unfired.filter { $0.id % 3 == 0 }
        #expect(wheel.count == survivors.count)
        while let node = wheel.popDue(now: now, horizon: horizon) { node.fire(true) }
        #expect(log.fired.count == 1_000 + survivors.count)
        let order = log.ids.map { (nodes[$0].deadline.uptimeNanoseconds, $0) }
        #expect(order.map(\.0) == order.map(\.0).sorted())
        #expect(zip(order, order.dropFirst()).allSatisfy { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) })
        #expect(wheel.count == 0)
    }
}

extension TimerWheelTests {
    /// A burst fills slots with big buffers; once the wheel runs empty they
    /// are freed, and a small timer load afterwards keeps little.
    @Test func aDrainedBurstGivesItsBuffersBack() {
        let log = Log()
        var wheel = TimerWheel()
        let count = TimerWheel.burstEntries * 4
        for id in 0..<count {
            // Spread over levels 0-2, so cascades fill slots too.
            wheel.insert(Probe(id, at: UInt64((id &* 7_919) % 5_000) * Self.tick, log: log))
        }
        #expect(wheel.bufferCapacity >= count)
        Self.fireDue(&wheel, at: 5_000 * Self.tick, log: log)
        #expect(log.fired.count == count)
        #expect(wheel.count == 0)
        #expect(wheel.bufferCapacity == 0)
        // A few timers afterwards: fired as usual.
        for id in 0..<10 { wheel.insert(Probe(count + id, at: 6_000 * Self.tick + UInt64(id), log: log)) }
        Self.fireDue(&wheel, at: 7_000 * Self.tick, log: log)
        #expect(log.fired.count == count + 10)
        #expect(wheel.bufferCapacity < 1_000)
    }
}
