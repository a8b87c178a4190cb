/// Echoing without a copy: `write(copying:)` of bytes the handler is being
/// handed may send them straight from their receive buffer instead of
/// copying them into the staging buffer.
///
/// The receive buffers are shared by every connection of the loop, so a
/// slow reader must not hold one: the buffer is lent only to a send that
/// completes at once (`IOOperation.sendNow`: the kernel takes what the
/// socket has room for and answers, it never waits), only when nothing else
/// is queued or in flight (so the bytes keep their place in the stream),
/// and only while plenty of buffers are left for receives. Whatever that
/// send leaves unsent is copied into the staging buffer, in front of what
/// was queued after it, and sent the usual way. Either way the buffer goes
/// back to the ring at the send's completion, never before: the kernel
/// reads it until then.
extension TCPConnection {
    /// Sends `count` bytes at `base` from the receive buffer being delivered,
    /// if they lie in it and the conditions above hold; false (nothing done)
    /// if the caller must copy them instead.
    @inline(__always)
    func sendFromDeliveredBuffer(_ base: UnsafeRawPointer, count: Int) -> Bool {
        // `deliveredBuffer` is set only while the ring has buffers to spare.
        guard let id = deliveredBuffer, sendID == nil, !inSendCompletion, lifecycle == .open, outbound.isEmpty,
              let start = deliveredBytes.baseAddress, base >= start, base + count <= start + deliveredBytes.count
        else { return false }
        deliveredBuffer = nil
        lentToSend = id
        outbound.enqueueLent(base, count: count)
        updateWritability()
        submitSendNow(base, count: count)
        // Not submitted (the loop is shutting down): no completion will
        // give the buffer back.
        if sendID == nil { returnLentBuffer() }
        return true
    }

    /// The send a receive buffer was lent to has completed (or was never
    /// submitted): its unsent bytes move to the staging buffer, ahead of any
    /// staged after them, and the buffer goes back to the ring.
    func returnLentBuffer() {
        guard let id = lentToSend else { return }
        lentToSend = nil
        if !outbound.isEmpty, let head = outbound.entries.first, case let .lent(base) = head.payload {
            let firstLive = outbound.firstStagedOffset ?? staging.used
            let (offset, moved) = staging.prepend(base + head.start, count: head.count, firstLive: firstLive)
            if moved > 0 { outbound.stagedBytesMoved(by: -moved) }
            outbound.restageHead(at: offset)
        }
        buffers?.recycle(id)
    }
}
