import RingLoop

/// Echoes a connection's bytes back. The hot path allocates nothing: the
/// received bytes are a view of the loop's shared receive buffer, copied into
/// the connection's reusable send buffer by `write(copying:)`.
///
/// Backpressure: when the peer does not read its echoes, the send queue
/// crosses its high watermark and the handler stops reading; it resumes once
/// the queue drains.
final class EchoConnection: TCPConnectionHandler {
    private let state: LoopState
    private let onClose: () -> Void

    init(state: LoopState, onClose: @escaping () -> Void) {
        self.state = state
        self.onClose = onClose
    }

    func connection(_ connection: TCPConnection, didRead bytes: UnsafeRawBufferPointer) {
        LoopState.bump(state.reads)
        LoopState.bump(state.bytes, by: bytes.count)
        connection.write(copying: bytes)
        if !connection.isWritable { connection.pauseReading() }
    }

    func connectionWritabilityDidChange(_ connection: TCPConnection) {
        if connection.isWritable { connection.resumeReading() }
    }

    func connectionDidReachEOF(_ connection: TCPConnection) {
        // The peer is done sending: finish its echoes, then close. A peer
        // that never reads them is reset after the timeout instead of
        // holding the connection forever.
        connection.close(afterPendingWrites: true, timeout: EchoConnection.flushTimeout)
    }

    /// How long a half-closed peer has to read its last echoes.
    static let flushTimeout: Duration = .seconds(10)

    func connectionDidClose(_ connection: TCPConnection) {
        state.remove(connection)
        onClose()
    }
}
