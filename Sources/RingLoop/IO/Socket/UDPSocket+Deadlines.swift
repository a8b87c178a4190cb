/// Sends and receives for callback code with a deadline: Python's
/// `sock.settimeout(t)` before `recvfrom`/`sendto`, for a `Future`.
///
/// The deadline stops the kernel operation exactly as it stops the `async`
/// form (`receive(deadline:)`), so a receive that timed out consumed
/// nothing: a datagram that arrives later stays for the next receive. (Wrapping
/// `receive()` in `Future.withTimeout` would not: the receive would go on
/// and take the datagram for a future nobody reads.)
///
/// ```swift
/// socket.receive(timeout: .seconds(1)).whenComplete { result in
///     // .failure(RingLoopError.timedOut(operation: "receive")) after a second
/// }
/// ```
extension UDPSocket {
    /// `receive(deadline:)` for callback code: the next datagram, or
    /// `RingLoopError.timedOut(operation: "receive")` if none came by
    /// `deadline` (none was consumed). Safe from any thread.
    public func receive(deadline: Deadline) -> Future<Datagram> {
        eventLoop.futureOperation(deadline: deadline, operation: "receive", receiveStarter())
    }

    /// `receive(deadline:)` for callback code, waiting at most `timeout`.
    public func receive(timeout: Duration) -> Future<Datagram> {
        receive(deadline: .now() + timeout)
    }

    /// `send(_:to:deadline:)` for callback code: succeeds once the kernel has
    /// taken the datagram, or fails with `RingLoopError.timedOut(operation:
    /// "send")` if it did not by `deadline` (nothing was sent). Safe from any
    /// thread.
    @discardableResult
    public func send(_ bytes: [UInt8], to address: SocketAddress, deadline: Deadline) -> Future<Void> {
        eventLoop.futureOperation(deadline: deadline, operation: "send", sendStarter(bytes, to: address))
    }

    /// `send(_:to:deadline:)` for callback code, waiting at most `timeout`.
    @discardableResult
    public func send(_ bytes: [UInt8], to address: SocketAddress, timeout: Duration) -> Future<Void> {
        send(bytes, to: address, deadline: .now() + timeout)
    }
}
