import DequeModule

/// The items an `AsyncQueue` holds, in its delivery order: a deque taken
/// from the front (FIFO) or the back (LIFO), or a binary heap (priority;
/// equal priorities leave in arrival order).
struct QueueBuffer<Element> {
    private struct Entry {
        var element: Element
        var sequence: UInt64
    }

    private enum Kind { case fifo, lifo, priority }

    private let kind: Kind
    private var items: Deque<Element> = []
    private var heap: [Entry] = []
    private let areInIncreasingOrder: ((Element, Element) -> Bool)?
    private var sequence: UInt64 = 0

    init(lifo: Bool) {
        kind = lifo ? .lifo : .fifo
        areInIncreasingOrder = nil
    }

    /// A heap delivering first the element that sorts first under `by`.
    init(priority by: @escaping (Element, Element) -> Bool) {
        kind = .priority
        areInIncreasingOrder = by
    }

    var count: Int { kind == .priority ? heap.count : items.count }

    var isEmpty: Bool { count == 0 }

    mutating func push(_ element: Element) {
        switch kind {
        case .fifo, .lifo:
            items.append(element)
        case .priority:
            sequence &+= 1
            heap.append(Entry(element: element, sequence: sequence))
            siftUp(heap.count - 1)
        }
    }

    mutating func pop() -> Element? {
        switch kind {
        case .fifo: return items.popFirst()
        case .lifo: return items.popLast()
        case .priority:
            guard !heap.isEmpty else { return nil }
            heap.swapAt(0, heap.count - 1)
            let top = heap.removeLast().element
            if !heap.isEmpty { siftDown(0) }
            return top
        }
    }

    private func before(_ a: Entry, _ b: Entry) -> Bool {
        if let areInIncreasingOrder {
            if areInIncreasingOrder(a.element, b.element) { return true }
            if areInIncreasingOrder(b.element, a.element) { return false }
        }
        return a.sequence < b.sequence
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard before(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let count = heap.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { break }
            let right = left + 1
            let child = right < count && before(heap[right], heap[left]) ? right : left
            guard before(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            parent = child
        }
    }
}
