import CLiburing
#if canImport(Glibc)
import Glibc
#endif

/// The connection's only contact with the ring: one submit function per
/// operation kind, one cancel per operation, and one completion entry that
/// decodes the kernel's answer and hands a typed outcome to the read or
/// write side.
extension TCPConnection {
    enum Context {
        static let receive: UInt64 = 1
        static let send: UInt64 = 2
        static let shutdown: UInt64 = 3
    }

    // MARK: Submitting

    /// Arms a receive into the loop's provided-buffer ring if the reader wants bytes.
    func armReceiveIfNeeded() {
        guard receiveID == nil, wantsToReceive else { return }
        guard let resources = resources ?? SocketResources.on(eventLoop) else {
            loopShutDown()
            return
        }
        self.resources = resources
        let ring: BufferRing
        do {
            ring = try buffers ?? resources.bufferRing(on: eventLoop)
        } catch {
            endInbound(.failed(error))
            return
        }
        buffers = ring
        let fd = self.fd
        let group = ring.group
        // A handler consumes each buffer as it arrives: one multishot receive
        // serves it. The async sequence keeps copies for its consumer, so it
        // receives one buffer at a time to stop exactly at its read-ahead
        // limit (a multishot burst could overshoot by the socket's whole
        // receive buffer before a cancel lands).
        var multishot = resources.multishotReceive
        if case .async = input.mode { multishot = false }
        do {
            receiveID = try eventLoop.submitOperation(self, context: Context.receive) { sqe in
                sqe.prepareRecv(fd: fd, bufferGroup: group, multishot: multishot)
            }
            receiveCancelRequested = false
        } catch {
            loopShutDown()
        }
    }

    /// Submits a send of one buffer.
    func submitSend(_ base: UnsafeRawPointer, count: Int) {
        let fd = self.fd
        submitOutput(context: Context.send, covering: 1) { sqe in sqe.prepareSend(fd: fd, from: base, count: count) }
    }

    /// Submits a vectored send of the first `covering` queued entries.
    func submitSendMessage(_ message: UnsafeMutablePointer<msghdr>, covering: Int) {
        let fd = self.fd
        submitOutput(context: Context.send, covering: covering) { sqe in sqe.prepareSendMessage(fd: fd, message: message) }
    }

    /// Submits the half-close at the head of the queue.
    func submitShutdown() {
        let fd = self.fd
        submitOutput(context: Context.shutdown, covering: 1) { sqe in sqe.prepareShutdown(fd: fd, how: Int32(SHUT_WR)) }
    }

    private func submitOutput(context: UInt64, covering: Int, _ prepare: (SQE) -> Void) {
        do {
            sendID = try eventLoop.submitOperation(self, context: context, prepare)
            sendCancelRequested = false
            outbound.sendStarted(covering: covering)
        } catch {
            loopShutDown()
        }
    }

    // MARK: Cancelling

    func cancelReceive() {
        guard let id = receiveID, !receiveCancelRequested else { return }
        receiveCancelRequested = true
        eventLoop.cancelOperation(id)
    }

    func cancelSend() {
        guard let id = sendID, !sendCancelRequested else { return }
        sendCancelRequested = true
        eventLoop.cancelOperation(id)
    }

    // MARK: Completing

    /// A receive CQE: bytes go to the reader (and their buffer back to the
    /// ring), anything else becomes an `InboundBuffer.End` or a retry.
    private func receiveCompleted(result: Int32, flags: UInt32) {
        let final = flags & IORING_CQE_F_MORE == 0
        if final {
            receiveID = nil
            receiveCancelRequested = false
        }
        let bufferID = buffers?.take(flags: flags)
        if result > 0, let bufferID, let buffers {
            received(buffers.bytes(bufferID, count: Int(result)))
            buffers.recycle(bufferID)
        } else {
            if let bufferID { buffers?.recycle(bufferID) }
            if result == 0 {
                endInbound(.eof)
            } else if result < 0 {
                switch -result {
                case ENOBUFS, EAGAIN, EINTR:
                    // The shared ring ran dry (buffers come back as their
                    // completions are handled) or a spurious wakeup: nothing
                    // was consumed from the socket; re-armed below.
                    break
                case ECANCELED:
                    if eventLoop.state != .running { loopShutDown() }
                case EINVAL where resources?.multishotReceive == true:
                    resources?.multishotReceive = false
                default:
                    endInbound(.failed(IOError("recv", result: result)))
                }
            }
        }
        if final {
            operationFinished()
            armReceiveIfNeeded()
        }
    }

    private func sendCompleted(result: Int32) {
        if result >= 0 {
            sendFinished(.sent(Int(result)))
        } else {
            switch -result {
            case EAGAIN, EINTR: sendFinished(.retry)
            case ECANCELED: sendFinished(.cancelled)
            default: sendFinished(.failed(IOError("send", result: result)))
            }
        }
    }

    private func shutdownCompleted(result: Int32) {
        shutdownFinished(cancelled: result == -ECANCELED, error: result < 0 ? IOError("shutdown", result: result) : nil)
    }
}

extension TCPConnection: CompletionHandler {
    package func ringCompleted(result: Int32, flags: UInt32, context: UInt64) {
        switch context {
        case Context.receive: receiveCompleted(result: result, flags: flags)
        case Context.send: sendCompleted(result: result)
        default: shutdownCompleted(result: result)
        }
    }
}
