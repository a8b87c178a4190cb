/// An intrusive doubly-linked FIFO of `PoolJob`s: append, pop and remove
/// (of a job known to be in this list) are O(1) and allocate nothing.
///
/// The list owns its jobs through `head` and each `next`; `tail` and
/// `previous` are unowned. Used only under the owning `PoolQueue`'s lock.
struct JobList {
    private var head: PoolJob?
    private unowned(unsafe) var tail: PoolJob?
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ job: PoolJob) {
        job.next = nil
        job.previous = tail
        if let tail {
            tail.next = job
        } else {
            head = job
        }
        tail = job
        count += 1
    }

    mutating func popFirst() -> PoolJob? {
        guard let first = head else { return nil }
        remove(first)
        return first
    }

    /// Unlinks `job`, which must be in this list.
    mutating func remove(_ job: PoolJob) {
        let next = job.next
        let previous = job.previous
        if let previous {
            previous.next = next
        } else {
            head = next
        }
        if let next {
            next.previous = previous
        } else {
            tail = previous
        }
        job.next = nil
        job.previous = nil
        count -= 1
    }

    /// Empties the list, unlinking iteratively (dropping a long chain at once
    /// would release it recursively and could overflow the stack).
    mutating func removeAll() -> [PoolJob] {
        var all: [PoolJob] = []
        all.reserveCapacity(count)
        while let job = popFirst() { all.append(job) }
        return all
    }

    func forEach(_ body: (PoolJob) -> Void) {
        var cursor = head
        while let job = cursor {
            body(job)
            cursor = job.next
        }
    }
}
