/// Receives a `TCPConnection`'s inbound events on its event loop thread: the
/// callback style of reading (the other is `connection.inbound`).
///
/// ```swift
/// final class Echo: TCPConnectionHandler {
///     func connection(_ connection: TCPConnection, didRead bytes: UnsafeRawBufferPointer) {
///         connection.write(copying: bytes)        // no allocation per message
///     }
/// }
/// listener.start { connection in connection.setHandler(Echo()) }
/// ```
///
/// The connection keeps its handler until it closes; a handler that stores
/// its connection forms a cycle that the close breaks.
public protocol TCPConnectionHandler: AnyObject {
    /// Bytes arrived. `bytes` is a view of a receive buffer shared by the
    /// loop's connections: valid only during this call (copy what you keep).
    func connection(_ connection: TCPConnection, didRead bytes: UnsafeRawBufferPointer)

    /// The peer shut down its side (EOF): no more bytes will arrive. Writing
    /// still works until either side closes. Default: close once the pending
    /// writes are sent (reset after `TCPConnection.defaultFlushTimeout` if the
    /// peer does not take them).
    func connectionDidReachEOF(_ connection: TCPConnection)

    /// Receiving failed, e.g. `IOError` with `.connectionReset` when the peer
    /// reset the connection, or a write without a completion (see
    /// `write(copying:)`) failed. Default: close the connection.
    func connection(_ connection: TCPConnection, didFailWith error: any Error)

    /// `connection.isWritable` changed: the bytes queued for sending crossed the
    /// high watermark (pause producing) or fell back below the low one.
    /// Default: nothing.
    func connectionWritabilityDidChange(_ connection: TCPConnection)

    /// The connection closed (its descriptor is released); the last call the
    /// handler receives. Default: nothing.
    func connectionDidClose(_ connection: TCPConnection)
}

extension TCPConnectionHandler {
    public func connectionDidReachEOF(_ connection: TCPConnection) {
        connection.close(afterPendingWrites: true)
    }

    public func connection(_ connection: TCPConnection, didFailWith error: any Error) {
        connection.close()
    }

    public func connectionWritabilityDidChange(_ connection: TCPConnection) {}

    public func connectionDidClose(_ connection: TCPConnection) {}
}
