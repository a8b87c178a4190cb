/// Buffers registered with one loop's io_uring ("fixed buffers"): the
/// kernel pins their pages once instead of on every transfer. An opt-in for
/// hot paths, mostly worth it with `O_DIRECT`.
///
/// Reads and writes on a file of the same loop use the registered form
/// (`READ_FIXED`/`WRITE_FIXED`) automatically when given one of these
/// buffers whole-range (not vectored):
///
/// ```swift
/// let fixed = try await FixedBuffers.register(count: 8, capacity: 1 << 20, on: loop)
/// let n = try await file.read(into: fixed.buffers[0], at: 0)
/// await fixed.unregister()
/// ```
///
/// The registration ends with `unregister()`, or when the `FixedBuffers` goes
/// away; buffers still referenced elsewhere then keep working, unregistered.
///
/// On the epoll backend (`EventLoop.Backend.epoll`) nothing is registered:
/// the buffers are allocated the same way and used with plain reads and
/// writes, with the same results.
public final class FixedBuffers: Sendable {
    /// The loop whose ring holds the registration.
    public let eventLoop: EventLoop
    /// The registered buffers.
    public let buffers: [FileBuffer]
    private let registrations: [BufferRegistration]

    private init(eventLoop: EventLoop, buffers: [FileBuffer], registrations: [BufferRegistration]) {
        self.eventLoop = eventLoop
        self.buffers = buffers
        self.registrations = registrations
    }

    /// Allocates `count` page-aligned buffers of `capacity` bytes and
    /// registers them with `loop`'s ring.
    ///
    /// - Throws: `IOError("register_buffers", …)`: `.noMemory` when the
    ///   memory-lock limit (RLIMIT_MEMLOCK) is too low, `.noBufferSpace` when
    ///   the ring's table (1024 slots) is full; nothing stays registered then.
    public static func register(count: Int, capacity: Int, on loop: EventLoop) async throws -> FixedBuffers {
        try await loop.submit {
            var buffers: [FileBuffer] = []
            var registrations: [BufferRegistration] = []
            for _ in 0..<max(count, 0) {
                let registration = BufferRegistration(loop: loop)
                let buffer = FileBuffer(capacity: capacity, alignment: FileBuffer.pageSize, registration: registration)
                switch loop.registerFixedBuffer(address: buffer.address, count: capacity) {
                case nil:
                    // epoll has no registered buffers: plain buffers, plain
                    // reads and writes (the same results, without the saving).
                    buffers.append(buffer)
                case let .success(slot):
                    registration.slot = slot
                    buffers.append(buffer)
                    registrations.append(registration)
                case let .failure(errno):
                    FixedBuffers.release(registrations, on: loop)
                    throw IOError("register_buffers", errno)
                }
            }
            return FixedBuffers(eventLoop: loop, buffers: buffers, registrations: registrations)
        }.get()
    }

    /// Ends the registration. Operations in flight finish normally.
    public func unregister() async {
        let registrations = self.registrations
        let loop = eventLoop
        _ = try? await loop.submit { FixedBuffers.release(registrations, on: loop) }.get()
    }

    deinit {
        let registrations = self.registrations
        let loop = eventLoop
        loop.execute { FixedBuffers.release(registrations, on: loop) }
    }

    /// Empties the slots (loop thread).
    private static func release(_ registrations: [BufferRegistration], on loop: EventLoop) {
        for registration in registrations {
            guard let slot = registration.slot else { continue }
            registration.slot = nil
            loop.unregisterFixedBuffer(slot: slot)
        }
    }
}
