import Synchronization

/// Where a waiter stands. Guarded by its owner's `stateLock`.
@usableFromInline
enum WaiterPhase: UInt8 {
    /// Created; its owner has not looked at it yet.
    case admitting
    /// Cancelled before its owner looked at it: admission withdraws it at once.
    case cancelledEarly
    /// In one of its owner's queues.
    case waiting
    /// Completed: its outcome is set and its resumption is queued (or done).
    case done
}

/// Why a waiter gives up.
@usableFromInline
enum WithdrawReason: Sendable {
    case cancelled
    case timedOut

    /// The error a waiter of `operation` (`"AsyncLock.lock"`…) resumes with.
    func error(_ operation: String) -> any Error {
        switch self {
        case .cancelled: CancellationError()
        case .timedOut: RingLoopError.timedOut(operation: operation)
        }
    }
}

/// The untyped part of a waiter: its links in a `WaiterQueue`, its phase and
/// its timeout. One node per suspended call; it resumes exactly once.
///
/// Ownership: a queued node is owned by its queue (the strong `next` of its
/// predecessor, or the queue's head); the suspended call also holds it.
///
/// Resumption goes through `resumeFunction`, set by the typed `Waiter`: a
/// virtual method of a generic class always runs its unspecialized body, which
/// looks up type metadata at every step (a third of a hand-off's cost).
// Safe to share: every field is read and written under the owning primitive's
// `stateLock`, except in `resume()`, which runs once, after the node turned
// `.done` under that lock, on the thread that completed it. For the same
// reason no access can overlap another: `@exclusivity(unchecked)` spares the
// dynamic checks.
@usableFromInline class WaiterNode: @unchecked Sendable {
    @usableFromInline @exclusivity(unchecked) var next: WaiterNode?
    /// Unowned: a linked node's predecessor is linked too, and kept alive by
    /// the queue (its own predecessor's `next`, or the head).
    @usableFromInline @exclusivity(unchecked) unowned(unsafe) var previous: WaiterNode?
    /// Tag of the queue holding the node; 0 when in none.
    @usableFromInline @exclusivity(unchecked) var queueTag: UInt8 = 0
    @usableFromInline @exclusivity(unchecked) var phase: WaiterPhase = .admitting
    /// The pending timeout, cancelled when the node resumes.
    @usableFromInline @exclusivity(unchecked) var timer: TimeoutTimer.Handle?
    /// Set when the waiter's task is cancelled after the waiter completed
    /// (while its resumption is pending): `suspend` then hands back what it
    /// was given. Atomic because the task reads it without `stateLock`, once
    /// its cancellation handler is removed (the runtime orders the handler's
    /// write before that removal, but sanitizers cannot see that).
    @usableFromInline let cancelledAfterCompletion = Atomic<Bool>(false)
    /// Delivers the outcome (specialized for the node's type).
    @usableFromInline let resumeFunction: (WaiterNode) -> Void

    @usableFromInline init(resume: @escaping (WaiterNode) -> Void) {
        resumeFunction = resume
    }

    /// Releases the rest of a dropped chain iteratively: a recursive release
    /// of a long queue would overflow the stack.
    deinit {
        guard var node = next else { return }
        next = nil
        while isKnownUniquelyReferenced(&node), let following = node.next {
            node.next = nil
            node = following
        }
    }

    /// Delivers the outcome; called once, outside the owner's lock.
    @inlinable final func resume() { resumeFunction(self) }
}

/// A suspended call waiting for a `Value` (the lock, a permit, an item…),
/// carrying what its primitive needs to know about it (`payload`: permits
/// requested, the item to put…).
// Safe to share: as `WaiterNode`; `payload`, `continuation`, `promise` and
// `outcome` follow
// the same rule (owner's lock, then the single `resume()`).
@usableFromInline final class Waiter<Value: Sendable, Payload>: WaiterNode, @unchecked Sendable {
    /// How the waiter is resumed: the suspended task, or a promise for the
    /// future-returning forms.
    @usableFromInline
    enum Resumer {
        case continuation(UnsafeContinuation<Value, any Error>)
        case promise(Promise<Value>)
    }

    @usableFromInline @exclusivity(unchecked) var payload: Payload
    /// How to resume (`Resumer`), one of the two set for a wait: as two
    /// fields rather than an optional enum, setting and taking the
    /// continuation (a trivial value) costs no outlined copy or destroy.
    @usableFromInline @exclusivity(unchecked) var continuation: UnsafeContinuation<Value, any Error>?
    @usableFromInline @exclusivity(unchecked) var promise: Promise<Value>?
    @usableFromInline @exclusivity(unchecked) var outcome: Result<Value, any Error>?

    @inlinable
    init(_ payload: Payload) {
        self.payload = payload
        super.init { unsafeDowncast($0, to: Waiter<Value, Payload>.self).resumeNow() }
    }

    /// Sets how to resume (under the owner's lock, before admission).
    @inlinable
    func setResumer(_ resumer: Resumer) {
        switch resumer {
        case let .continuation(continuation): self.continuation = continuation
        case let .promise(promise): self.promise = promise
        }
    }

    /// Completes the waiter (under the owner's lock; it must be out of every
    /// queue): it resumes with `result` once `wakeups` are performed.
    @inlinable
    func complete(_ result: Result<Value, any Error>, into wakeups: inout Wakeups) {
        setOutcome(result)
        wakeups.append(self)
    }

    /// `complete` without queueing the resumption: the caller then hands its
    /// own reference to `wakeups.append` (`consume`), which spares a
    /// retain/release pair on the hand-off path.
    @inlinable
    func setOutcome(_ result: Result<Value, any Error>) {
        precondition(phase != .done && queueTag == 0, "RingLoop: a waiter completed twice")
        phase = .done
        outcome = result
    }

    /// Delivers the outcome. Touches no field after resuming the
    /// continuation: the resumed task may already be reusing the node for
    /// its next wait (`WaiterCache`).
    @inlinable
    func resumeNow() {
        if let timer = timer.take() { timer.cancel() }
        if let continuation = continuation.take() {
            guard let outcome = outcome.take() else { return }
            tsanRelease(self)
            continuation.resume(with: outcome)
        } else if let promise = promise.take() {
            guard let outcome = outcome.take() else { return }
            promise.complete(outcome)
        }
    }
}

extension Unmanaged {
    /// Resumes a waiter handed over retained (popped from its queue, with
    /// `stateLock` released), then releases it: borrowing it for the call
    /// spares the retain/release pair a strong reference gets around it.
    @inlinable
    func resumeAndRelease<Value, Payload>() where Instance == Waiter<Value, Payload> {
        _withUnsafeGuaranteedRef { $0.resumeNow() }
        release()
    }
}

/// Waiters completed under a primitive's lock, resumed after it is released
/// (never resume a continuation or run a promise's callbacks under a lock).
@usableFromInline
struct Wakeups: ~Copyable {
    @usableFromInline var first: WaiterNode?
    /// Waiters after the first; nil (not an empty array, whose storage would
    /// still be released) until a second one comes.
    @usableFromInline var more: [WaiterNode]?

    @inlinable
    init() {}

    @inlinable
    mutating func append(_ node: consuming WaiterNode) {
        if first == nil {
            first = node
        } else if more == nil {
            more = [node]
        } else {
            more!.append(node)
        }
    }

    /// Resumes every waiter, in completion order. Inlined down to a nil
    /// check: most calls have nothing to resume (a waiter that queued).
    @inlinable @inline(__always)
    consuming func perform() {
        if first != nil { resumeAll() }
    }

    @usableFromInline
    consuming func resumeAll() {
        guard let first = first.take() else { return }
        first.resume()
        if let more = more.take() {
            for node in more { node.resume() }
        }
    }
}
