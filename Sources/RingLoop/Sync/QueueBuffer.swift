import DequeModule

/// The items an `AsyncQueue` holds, in its delivery order: a deque taken
/// from the front (FIFO) or the back (LIFO), or a binary heap (priority;
/// equal priorities leave in arrival order).
@usableFromInline
struct QueueBuffer<Element> {
    @usableFromInline
    struct Entry {
        @usableFromInline var element: Element
        @usableFromInline var sequence: UInt64

        @inlinable
        init(element: Element, sequence: UInt64) {
            self.element = element
            self.sequence = sequence
        }
    }

    @usableFromInline
    enum Kind { case fifo, lifo, priority }

    @usableFromInline let kind: Kind
    @usableFromInline var items: Deque<Element> = []
    @usableFromInline var heap: [Entry] = []
    @usableFromInline let areInIncreasingOrder: ((Element, Element) -> Bool)?
    /// Sequence of the next item pushed at the back; items pushed back to
    /// the front count down from below it (`frontSequence`), so they sort
    /// before every other item of equal priority.
    @usableFromInline var sequence: UInt64 = 1 << 63
    @usableFromInline var frontSequence: UInt64 = 1 << 63

    init(lifo: Bool) {
        kind = lifo ? .lifo : .fifo
        areInIncreasingOrder = nil
    }

    /// A heap delivering first the element that sorts first under `by`.
    init(priority by: @escaping (Element, Element) -> Bool) {
        kind = .priority
        areInIncreasingOrder = by
    }

    @inlinable var count: Int { kind == .priority ? heap.count : items.count }

    @inlinable var isEmpty: Bool { count == 0 }

    @inlinable
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

    /// Puts back `element` as the next to leave (an item returned by a
    /// cancelled getter): first in FIFO and LIFO order, first among equals in
    /// priority order.
    mutating func pushFront(_ element: Element) {
        switch kind {
        case .fifo: items.prepend(element)
        case .lifo: items.append(element)
        case .priority:
            frontSequence &-= 1
            heap.append(Entry(element: element, sequence: frontSequence))
            siftUp(heap.count - 1)
        }
    }

    @inlinable
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

    @inlinable
    func before(_ a: Entry, _ b: Entry) -> Bool {
        if let areInIncreasingOrder {
            if areInIncreasingOrder(a.element, b.element) { return true }
            if areInIncreasingOrder(b.element, a.element) { return false }
        }
        return a.sequence < b.sequence
    }

    @inlinable
    mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard before(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    @inlinable
    mutating func siftDown(_ start: Int) {
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
