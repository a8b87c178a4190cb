#if canImport(Glibc)
import Glibc
#endif

/// The memory a `sendmsg`/`recvmsg` hands the kernel: one `msghdr`, its
/// iovecs, and room for a socket address, in one allocation.
///
/// Ownership: whoever holds the vector (a connection for its sends, a
/// datagram operation) keeps it alive, unchanged, until the operation's
/// final CQE; the kernel reads the header and iovecs (and writes the address
/// and flags of a receive) until then.
final class MessageVector {
    /// Iovecs the vector holds.
    let capacity: Int
    private let storage: UnsafeMutableRawPointer

    private static var iovecOffset: Int { MemoryLayout<msghdr>.stride }
    private var addressOffset: Int {
        let end = MessageVector.iovecOffset + capacity * MemoryLayout<iovec>.stride
        let alignment = MemoryLayout<sockaddr_storage>.alignment
        return (end + alignment - 1) / alignment * alignment
    }

    init(capacity: Int) {
        self.capacity = capacity
        let end = MessageVector.iovecOffset + capacity * MemoryLayout<iovec>.stride
        let alignment = MemoryLayout<sockaddr_storage>.alignment
        let bytes = (end + alignment - 1) / alignment * alignment + MemoryLayout<sockaddr_storage>.stride
        storage = .allocate(byteCount: bytes, alignment: max(16, alignment))
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
    }

    deinit {
        storage.deallocate()
    }

    /// The header, as last prepared.
    var message: UnsafeMutablePointer<msghdr> { storage.assumingMemoryBound(to: msghdr.self) }

    private var iovecs: UnsafeMutablePointer<iovec> {
        (storage + MessageVector.iovecOffset).assumingMemoryBound(to: iovec.self)
    }

    /// The address storage (a receive's sender, a send's destination).
    var address: UnsafeMutablePointer<sockaddr_storage> {
        (storage + addressOffset).assumingMemoryBound(to: sockaddr_storage.self)
    }

    /// Points iovec `index` at `count` bytes from `base`.
    func setIOVec(_ index: Int, base: UnsafeRawPointer, count: Int) {
        precondition(index < capacity, "iovec index out of range")
        iovecs[index] = iovec(iov_base: UnsafeMutableRawPointer(mutating: base), iov_len: count)
    }

    /// The iovec at `index` (tests).
    func ioVec(_ index: Int) -> (base: UnsafeRawPointer?, count: Int) {
        let entry = iovecs[index]
        return (entry.iov_base.map { UnsafeRawPointer($0) }, entry.iov_len)
    }

    /// A header over the first `count` iovecs, with no address (a connected send).
    @discardableResult
    func prepare(iovecs count: Int) -> UnsafeMutablePointer<msghdr> {
        precondition(count <= capacity, "more iovecs than the vector holds")
        var header = msghdr()
        header.msg_iov = iovecs
        header.msg_iovlen = count
        message.pointee = header
        return message
    }

    /// A header over the first `count` iovecs, sending to `destination`.
    @discardableResult
    func prepare(iovecs count: Int, destination: SocketAddress) -> UnsafeMutablePointer<msghdr> {
        prepare(iovecs: count)
        message.pointee.msg_name = UnsafeMutableRawPointer(address)
        message.pointee.msg_namelen = destination.write(to: address)
        return message
    }

    /// A header over the first `count` iovecs with room for the sender's
    /// address (a receive).
    @discardableResult
    func prepareForReceive(iovecs count: Int) -> UnsafeMutablePointer<msghdr> {
        prepare(iovecs: count)
        address.pointee = sockaddr_storage()
        message.pointee.msg_name = UnsafeMutableRawPointer(address)
        message.pointee.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return message
    }

    /// The sender's address after a receive completed.
    var receivedAddress: SocketAddress? {
        SocketAddress(UnsafeRawPointer(address), length: message.pointee.msg_namelen)
    }
}
