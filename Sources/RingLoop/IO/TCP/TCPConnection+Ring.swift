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
        let ring: ProvidedBuffers
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
        // A handler's connection belongs to the loop until it closes: its
        // receive holds it. The async reader's receive goes through a relay
        // that holds the connection weakly, so a connection its user dropped
        // (without close) is released, and its deinit ends the receive.
        let handler: CompletionHandler
        if case .async = input.mode {
            multishot = false
            let relay = self.relay ?? ReceiveRelay(connection: self, buffers: ring)
            self.relay = relay
            handler = relay
        } else {
            handler = self
        }
        do {
            receiveID = try eventLoop.submitOperation(
                .receive(fd: fd, bufferGroup: group, multishot: multishot), handler: handler, context: Context.receive)
            receiveCancelRequested = false
        } catch {
            loopShutDown()
        }
    }

    /// Submits a send of one buffer.
    func submitSend(_ base: UnsafeRawPointer, count: Int) {
        let fd = self.fd
        submitOutput(.send(fd: fd, buffer: base, count: count), context: Context.send, covering: 1)
    }

    /// Submits a send of one buffer that completes at once (see
    /// `IOOperation.sendNow`).
    func submitSendNow(_ base: UnsafeRawPointer, count: Int) {
        let fd = self.fd
        submitOutput(.sendNow(fd: fd, buffer: base, count: count), context: Context.send, covering: 1)
    }

    /// Submits a vectored send of the first `covering` queued entries.
    func submitSendMessage(_ message: UnsafeMutablePointer<msghdr>, covering: Int) {
        let fd = self.fd
        submitOutput(.sendMessage(fd: fd, message: message), context: Context.send, covering: covering)
    }

    /// Submits the half-close at the head of the queue.
    func submitShutdown() {
        let fd = self.fd
        submitOutput(.shutdown(fd: fd, how: Int32(SHUT_WR)), context: Context.shutdown, covering: 1)
    }

    private func submitOutput(_ operation: IOOperation, context: UInt64, covering: Int) {
        do {
            sendID = try eventLoop.submitOperation(operation, handler: self, context: context)
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

    /// A receive completion: bytes go to the reader (and their buffer back to
    /// the group), anything else ends the stream or is retried.
    private func receiveCompleted(_ completion: Completion) {
        let final = !completion.hasMore
        if final {
            receiveID = nil
            receiveCancelRequested = false
        }
        let bufferID = buffers?.take(completion.bufferID)
        if let count = completion.value, count > 0, let bufferID, let buffers {
            let bytes = buffers.bytes(bufferID, count: Int(count))
            // A send may borrow the buffer only while plenty are left.
            if buffers.hasSpare {
                deliveredBuffer = bufferID
                deliveredBytes = bytes
                received(bytes)
                // Still set unless a send borrowed the buffer (it gives it back).
                if deliveredBuffer != nil {
                    deliveredBuffer = nil
                    buffers.recycle(bufferID)
                }
            } else {
                received(bytes)
                buffers.recycle(bufferID)
            }
        } else {
            if let bufferID { buffers?.recycle(bufferID) }
            switch completion.outcome {
            case .success(0):
                endInbound(.eof)
            case .success, .cancelled:
                break
            case .shutDown:
                loopShutDown()
            case let .failure(errno):
                switch errno.rawValue {
                case ENOBUFS:
                    // The shared group ran dry (buffers come back as their
                    // completions are handled): nothing was consumed from
                    // the socket; re-armed below, once more are posted.
                    buffers?.ranDry()
                case EAGAIN, EINTR:
                    // A spurious wakeup: nothing consumed; re-armed below.
                    break
                case EINVAL where resources?.multishotReceive == true:
                    resources?.multishotReceive = false
                default:
                    endInbound(.failed(IOError("recv", errno)))
                }
            }
        }
        if final {
            operationFinished()
            armReceiveIfNeeded()
        }
    }

    private func sendCompleted(_ completion: Completion) {
        switch completion.outcome {
        case let .success(sent):
            sendFinished(.sent(Int(sent)))
        case .cancelled:
            sendFinished(.cancelled)
        case .shutDown:
            sendFinished(.shutDown)
        case let .failure(errno):
            switch errno.rawValue {
            case EAGAIN, EINTR: sendFinished(.retry)
            default: sendFinished(.failed(IOError("send", errno)))
            }
        }
    }

    private func shutdownCompleted(_ completion: Completion) {
        switch completion.outcome {
        case .success: shutdownFinished(.done)
        case .cancelled: shutdownFinished(.cancelled)
        case .shutDown: shutdownFinished(.shutDown)
        case let .failure(errno): shutdownFinished(.failed(IOError("shutdown", errno)))
        }
    }
}

extension TCPConnection: CompletionHandler {
    package func completed(_ completion: Completion, context: UInt64) {
        switch context {
        case Context.receive: receiveCompleted(completion)
        case Context.send: sendCompleted(completion)
        default: shutdownCompleted(completion)
        }
    }
}

/// Forwards the async reader's receive completions to a connection it holds
/// weakly. Once the connection is gone (dropped without close; its deinit
/// cancels the receive), a completion only returns its buffer to the group.
final class ReceiveRelay: CompletionHandler {
    // Read on the loop thread only; the weak reference turns nil atomically
    // when the connection is released on any thread.
    weak var connection: TCPConnection?
    private let buffers: ProvidedBuffers

    init(connection: TCPConnection, buffers: ProvidedBuffers) {
        self.connection = connection
        self.buffers = buffers
    }

    func completed(_ completion: Completion, context: UInt64) {
        if let connection {
            connection.completed(completion, context: context)
        } else if let id = buffers.take(completion.bufferID) {
            buffers.recycle(id)
        }
    }
}
