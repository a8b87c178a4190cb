/// Per-loop state that a layer above the loop creates on first use (the
/// sockets' provided-buffer ring, for instance) and that must be torn down
/// before the loop's ring closes.
protocol LoopAttachment: AnyObject {
    /// Runs on the loop thread once no operation is in flight, just before the
    /// loop's backend closes. Afterwards the loop drops its reference.
    func loopWillClose(_ loop: EventLoop)
}

extension EventLoop {
    /// The loop's attachment of type `T`, made by `make` on first use. Nil
    /// unless the loop is running (nothing new may touch the ring then).
    /// Loop thread only.
    func attachment<T: LoopAttachment>(_ type: T.Type, _ make: (EventLoop) throws -> T) rethrows -> T? {
        preconditionInEventLoop()
        let key = ObjectIdentifier(type)
        if let existing = attachments[key] { return existing as? T }
        guard state == .running else { return nil }
        let made = try make(self)
        attachments[key] = made
        return made
    }

    /// Tears every attachment down (from `finish`, before the ring closes).
    func detachAll() {
        let all = attachments
        attachments.removeAll()
        for attachment in all.values { attachment.loopWillClose(self) }
    }
}
