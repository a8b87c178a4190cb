/// An intrusive doubly-linked FIFO of `PoolJob`s: append, pop and remove
/// (of a job known to be in this list) are O(1) and allocate nothing.
///
/// The list holds one reference to each of its jobs, taken by `append` (or
/// handed over to `append(transferring:)`), handed to the caller by
/// `popFirst`/`popFirstEntry`/`removeEntry` and released by `remove`. The links
/// themselves are unmanaged: relinking touches no reference count, neither
/// the job's nor its neighbours' (whose cache lines other threads may own),
/// which keeps the pool's critical sections short. Used only under the
/// owning `PoolQueue`'s lock.
struct JobList {
    private var head: Unmanaged<PoolJob>?
    private var tail: Unmanaged<PoolJob>?
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    /// Appends `job`, taking a reference to it.
    mutating func append(_ job: PoolJob) {
        append(transferring: Unmanaged.passRetained(job))
    }

    /// Appends a job together with a reference to it that the caller hands
    /// over (from `popFirstEntry` or `removeEntry` of another list): moving
    /// a job between lists touches no reference count.
    mutating func append(transferring entry: Unmanaged<PoolJob>) {
        entry._withUnsafeGuaranteedRef { job in
            job.next = nil
            job.previous = tail
        }
        if let tail {
            tail._withUnsafeGuaranteedRef { $0.next = entry }
        } else {
            head = entry
        }
        tail = entry
        count += 1
    }

    /// Unlinks the first job and hands over the list's reference to it.
    mutating func popFirst() -> PoolJob? {
        popFirstEntry()?.takeRetainedValue()
    }

    /// Unlinks the first job and hands over the list's reference to it,
    /// still unmanaged (the caller releases it, or passes it on).
    mutating func popFirstEntry() -> Unmanaged<PoolJob>? {
        guard let first = head else { return nil }
        unlink(first)
        return first
    }

    /// Unlinks `job`, which must be in this list, and releases the list's
    /// reference to it.
    mutating func remove(_ job: PoolJob) {
        removeEntry(Unmanaged.passUnretained(job)).release()
    }

    /// Unlinks `entry`'s job, which must be in this list, and hands over the
    /// list's reference to it.
    mutating func removeEntry(_ entry: Unmanaged<PoolJob>) -> Unmanaged<PoolJob> {
        unlink(entry)
        return entry
    }

    private mutating func unlink(_ entry: Unmanaged<PoolJob>) {
        let (next, previous) = entry._withUnsafeGuaranteedRef { job in
            defer {
                job.next = nil
                job.previous = nil
            }
            return (job.next, job.previous)
        }
        if let previous {
            previous._withUnsafeGuaranteedRef { $0.next = next }
        } else {
            head = next
        }
        if let next {
            next._withUnsafeGuaranteedRef { $0.previous = previous }
        } else {
            tail = previous
        }
        count -= 1
    }

    /// Empties the list, handing over its references.
    mutating func removeAll() -> [PoolJob] {
        var all: [PoolJob] = []
        all.reserveCapacity(count)
        while let job = popFirst() { all.append(job) }
        return all
    }

    func forEach(_ body: (PoolJob) -> Void) {
        var cursor = head
        while let entry = cursor {
            entry._withUnsafeGuaranteedRef { body($0) }
            cursor = entry._withUnsafeGuaranteedRef { $0.next }
        }
    }
}
