/// A loop is identified by the object itself: two references are equal when
/// they are the same loop.
extension EventLoop: CustomStringConvertible {
    public var description: String { "EventLoop(\(name))" }
}

extension EventLoop: Hashable {
    public static func == (lhs: EventLoop, rhs: EventLoop) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
