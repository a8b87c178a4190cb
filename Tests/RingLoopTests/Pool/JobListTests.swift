import Testing
@testable import RingLoop

/// `JobList` links its jobs without reference counting and keeps exactly one
/// reference per listed job: these check that a job lives while listed, is
/// handed over by `popFirst`, and is freed once removed and dropped.
@Suite("JobList")
struct JobListTests {
    private static func job(_ value: Int) -> TypedPoolJob<Int> { TypedPoolJob(body: { value }) }

    @Test func listedJobsStayAliveAndComeOutInOrder() {
        var list = JobList()
        weak var first: TypedPoolJob<Int>?
        weak var second: TypedPoolJob<Int>?
        weak var third: TypedPoolJob<Int>?
        do {
            let jobs = (1...3).map(Self.job)
            first = jobs[0]
            second = jobs[1]
            third = jobs[2]
            for job in jobs { list.append(job) }
        }
        // Only the list holds them now.
        #expect(first != nil && second != nil && third != nil)
        #expect(list.count == 3)

        let popped = list.popFirst()
        #expect(popped === first)
        #expect(list.count == 2)
        var order: [ObjectIdentifier] = []
        list.forEach { order.append(ObjectIdentifier($0)) }
        #expect(order == [second, third].map { ObjectIdentifier($0!) })
        _ = popped
        _ = list.removeAll()
        #expect(second == nil && third == nil)
    }

    @Test func removedAndPoppedJobsAreFreedOnceDropped() {
        var list = JobList()
        weak var kept: TypedPoolJob<Int>?
        weak var removed: TypedPoolJob<Int>?
        weak var popped: TypedPoolJob<Int>?
        weak var last: TypedPoolJob<Int>?
        do {
            let jobs = (1...4).map(Self.job)
            popped = jobs[0]
            removed = jobs[1]
            kept = jobs[2]
            last = jobs[3]
            for job in jobs { list.append(job) }
            // Removing from the middle relinks the neighbours.
            list.remove(jobs[1])
        }
        #expect(removed == nil)
        #expect(list.count == 3)

        do { _ = list.popFirst() }
        #expect(popped == nil)

        // Removing the tail, then appending again, keeps the list consistent.
        if let tail = last { list.remove(tail) }
        #expect(last == nil)
        #expect(list.count == 1)
        let again = Self.job(5)
        list.append(again)
        var values: [ObjectIdentifier] = []
        list.forEach { values.append(ObjectIdentifier($0)) }
        #expect(values == [ObjectIdentifier(kept!), ObjectIdentifier(again)])

        let all = list.removeAll()
        #expect(all.count == 2 && list.isEmpty)
        _ = all
    }

    @Test func movingAJobBetweenListsKeepsExactlyOneReference() {
        var from = JobList()
        var to = JobList()
        weak var moved: TypedPoolJob<Int>?
        do {
            let job = Self.job(1)
            moved = job
            from.append(job)
        }
        if let entry = from.popFirstEntry() { to.append(transferring: entry) }
        #expect(from.isEmpty && to.count == 1)
        #expect(moved != nil)
        // Handed back out of the list: alive until that reference is released.
        if let job = moved {
            let entry = to.removeEntry(Unmanaged.passUnretained(job))
            #expect(to.isEmpty)
            entry.release()
        }
        #expect(moved == nil)
    }

    @Test func everyJobIsFreedWithTheLastReferenceToIt() {
        weak var job: TypedPoolJob<Int>?
        do {
            var list = JobList()
            do {
                let created = Self.job(1)
                job = created
                list.append(created)
            }
            #expect(job != nil)
            _ = list.removeAll()
        }
        #expect(job == nil)
    }
}
