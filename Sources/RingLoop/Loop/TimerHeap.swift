/// A timer waiting in a loop's heap. Touched only on its loop's thread.
final class TimerNode {
    let deadline: Deadline
    /// Tie-breaker: timers with equal deadlines fire in scheduling order.
    let sequence: UInt64
    /// Position in the heap; -1 once fired or cancelled.
    var heapIndex: Int = -1
    /// Runs when the timer fires (`true`) or is cancelled/shut down (`false`).
    var action: ((_ fired: Bool) -> Void)?

    init(deadline: Deadline, sequence: UInt64, action: @escaping (_ fired: Bool) -> Void) {
        self.deadline = deadline
        self.sequence = sequence
        self.action = action
    }

    @inline(__always)
    func fires(before other: TimerNode) -> Bool {
        deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
    }
}

/// Binary min-heap of timers ordered by (deadline, sequence): O(log n) insert,
/// O(log n) removal of any timer (each node knows its index), O(1) peek.
struct TimerHeap {
    private var nodes: ContiguousArray<TimerNode> = []

    var count: Int { nodes.count }
    var isEmpty: Bool { nodes.isEmpty }
    var first: TimerNode? { nodes.first }

    mutating func insert(_ node: TimerNode) {
        node.heapIndex = nodes.count
        nodes.append(node)
        siftUp(nodes.count - 1)
    }

    /// Removes `node` if it is still in the heap; returns whether it was.
    @discardableResult
    mutating func remove(_ node: TimerNode) -> Bool {
        let index = node.heapIndex
        guard index >= 0, index < nodes.count, nodes[index] === node else { return false }
        let last = nodes.count - 1
        if index != last {
            nodes.swapAt(index, last)
            nodes[index].heapIndex = index
        }
        nodes.removeLast()
        node.heapIndex = -1
        if index < nodes.count {
            siftDown(index)
            siftUp(index)
        }
        return true
    }

    mutating func popFirst() -> TimerNode? {
        guard let top = nodes.first else { return nil }
        remove(top)
        return top
    }

    mutating func removeAll() -> ContiguousArray<TimerNode> {
        let all = nodes
        nodes.removeAll()
        for node in all { node.heapIndex = -1 }
        return all
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        let node = nodes[child]
        while child > 0 {
            let parent = (child - 1) / 2
            guard node.fires(before: nodes[parent]) else { break }
            nodes[child] = nodes[parent]
            nodes[child].heapIndex = child
            child = parent
        }
        nodes[child] = node
        node.heapIndex = child
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let node = nodes[parent]
        let count = nodes.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { break }
            let right = left + 1
            let child = right < count && nodes[right].fires(before: nodes[left]) ? right : left
            guard nodes[child].fires(before: node) else { break }
            nodes[parent] = nodes[child]
            nodes[parent].heapIndex = parent
            parent = child
        }
        nodes[parent] = node
        node.heapIndex = parent
    }
}
