/// Slab of in-flight operation records, indexed by `user_data`.
///
/// `user_data` = generation (high 32 bits, 1...2^31-1) | slot index (low 32).
/// Values with the top bit set, and 0, are reserved for the ring's own
/// bookkeeping (wakeups, fire-and-forget cancels, liburing's internal timeout).
/// A slot keeps its handler, and with it everything the kernel may touch, until
/// the operation's final CQE (one without `IORING_CQE_F_MORE`).
struct OperationTable {
    private var handlers: ContiguousArray<CompletionHandler?> = []
    private var contexts: ContiguousArray<UInt64> = []
    private var generations: ContiguousArray<UInt32> = []
    private var free: ContiguousArray<UInt32> = []
    private(set) var live = 0

    init(reserving capacity: Int) {
        handlers.reserveCapacity(capacity)
        contexts.reserveCapacity(capacity)
        generations.reserveCapacity(capacity)
        free.reserveCapacity(capacity)
    }

    static func isReserved(_ userData: UInt64) -> Bool {
        userData == 0 || userData & (1 << 63) != 0
    }

    mutating func insert(_ handler: CompletionHandler, context: UInt64) -> OperationID {
        let index: UInt32
        if let reused = free.popLast() {
            index = reused
            handlers[Int(index)] = handler
            contexts[Int(index)] = context
        } else {
            index = UInt32(handlers.count)
            handlers.append(handler)
            contexts.append(context)
            generations.append(1)
        }
        live += 1
        return OperationID(userData: UInt64(generations[Int(index)]) << 32 | UInt64(index))
    }

    func contains(_ id: OperationID) -> Bool {
        let index = Int(truncatingIfNeeded: id.userData & 0xFFFF_FFFF)
        return index < generations.count
            && UInt64(generations[index]) == id.userData >> 32
            && handlers[index] != nil
    }

    /// Looks up the record for a CQE; releases it when `final`.
    @inline(__always)
    mutating func take(_ userData: UInt64, final: Bool) -> (CompletionHandler, UInt64)? {
        let index = Int(truncatingIfNeeded: userData & 0xFFFF_FFFF)
        guard index < generations.count, UInt64(generations[index]) == userData >> 32 else { return nil }
        guard final else {
            guard let handler = handlers[index] else { return nil }
            return (handler, contexts[index])
        }
        // Moved out, not copied: the final CQE hands the table's reference
        // to the caller (no retain/release pair per operation).
        guard let handler = handlers[index].take() else { return nil }
        let context = contexts[index]
        release(index)
        return (handler, context)
    }

    /// Removes a record without a CQE; only for an SQE that was never submitted.
    mutating func remove(_ id: OperationID) {
        guard contains(id) else { return }
        let index = Int(truncatingIfNeeded: id.userData & 0xFFFF_FFFF)
        handlers[index] = nil
        release(index)
    }

    /// Frees slot `index`, whose handler is already taken out.
    private mutating func release(_ index: Int) {
        let next = generations[index] &+ 1
        generations[index] = next >= 0x8000_0000 ? 1 : next
        free.append(UInt32(index))
        live -= 1
    }

    /// Every live operation's identifier (for cancelling all at shutdown).
    func liveIDs() -> [OperationID] {
        var ids: [OperationID] = []
        ids.reserveCapacity(live)
        for index in handlers.indices where handlers[index] != nil {
            ids.append(OperationID(userData: UInt64(generations[index]) << 32 | UInt64(index)))
        }
        return ids
    }
}
