import DequeModule

/// A FIFO queue that keeps its first element inline and only the rest in a
/// `Deque`: the send queue of a connection that echoes (one entry at a time)
/// never touches, nor allocates, heap storage. With thousands of connections
/// that heap object is a cache miss per message.
///
/// The element count of the heap part is mirrored in `restCount`, so asking
/// whether the queue has more than its head does not read the heap either.
struct HeadInlineDeque<Element>: RandomAccessCollection {
    /// Nil only when the queue is empty.
    private var head: Element?
    private var rest: Deque<Element> = []
    private var restCount = 0
    /// `head != nil`, kept apart: comparing the optional element with nil
    /// copies and destroys it (value-witness calls) on every size check.
    private var hasHead = false

    init() {}

    var startIndex: Int { 0 }
    var endIndex: Int { hasHead ? 1 + restCount : 0 }
    var count: Int { endIndex }
    var isEmpty: Bool { !hasHead }
    var first: Element? { head }

    /// Runs `body` on the first element in place (the queue is not empty):
    /// reading a field through `first` copies the whole element.
    @inline(__always)
    mutating func withFirst<R>(_ body: (inout Element) -> R) -> R {
        body(&head!)
    }

    subscript(position: Int) -> Element {
        get {
            precondition(position >= 0 && position < endIndex, "HeadInlineDeque index out of range")
            return position == 0 ? head.unsafelyUnwrapped : rest[position - 1]
        }
        _modify {
            precondition(position >= 0 && position < endIndex, "HeadInlineDeque index out of range")
            if position == 0 {
                yield &head!
            } else {
                yield &rest[position - 1]
            }
        }
    }

    mutating func append(_ element: Element) {
        if !hasHead {
            head = element
            hasHead = true
        } else {
            rest.append(element)
            restCount += 1
        }
    }

    mutating func prepend(_ element: Element) {
        if let current = head.take() {
            rest.prepend(current)
            restCount += 1
        }
        head = element
        hasHead = true
    }

    mutating func popFirst() -> Element? {
        guard hasHead, let current = head.take() else { return nil }
        if restCount > 0 {
            head = rest.removeFirst()
            restCount -= 1
        } else {
            hasHead = false
        }
        return current
    }

    @discardableResult
    mutating func removeFirst() -> Element {
        guard let current = popFirst() else { preconditionFailure("removeFirst on an empty HeadInlineDeque") }
        return current
    }

    @discardableResult
    mutating func remove(at position: Int) -> Element {
        precondition(position >= 0 && position < endIndex, "HeadInlineDeque index out of range")
        if position == 0 { return removeFirst() }
        restCount -= 1
        return rest.remove(at: position - 1)
    }
}
