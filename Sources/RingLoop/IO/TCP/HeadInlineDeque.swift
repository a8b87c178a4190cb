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

    init() {}

    var startIndex: Int { 0 }
    var endIndex: Int { head == nil ? 0 : 1 + restCount }
    var count: Int { endIndex }
    var isEmpty: Bool { head == nil }
    var first: Element? { head }

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
        if head == nil {
            head = element
        } else {
            rest.append(element)
            restCount += 1
        }
    }

    mutating func prepend(_ element: Element) {
        if let current = head {
            rest.prepend(current)
            restCount += 1
        }
        head = element
    }

    mutating func popFirst() -> Element? {
        guard let current = head else { return nil }
        if restCount > 0 {
            head = rest.removeFirst()
            restCount -= 1
        } else {
            head = nil
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
