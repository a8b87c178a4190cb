import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import RingLoop

@Suite("MessageVector")
struct MessageVectorTests {
    @Test func theHeaderCoversThePreparedIOVecs() {
        let vector = MessageVector(capacity: 4)
        let bytes: [UInt8] = [1, 2, 3, 4, 5]
        bytes.withUnsafeBytes { raw in
            vector.setIOVec(0, base: raw.baseAddress!, count: 2)
            vector.setIOVec(1, base: raw.baseAddress! + 2, count: 3)
            let message = vector.prepare(iovecs: 2)
            #expect(message.pointee.msg_iovlen == 2)
            #expect(message.pointee.msg_name == nil && message.pointee.msg_namelen == 0)
            #expect(vector.ioVec(1).base == UnsafeRawPointer(raw.baseAddress! + 2) && vector.ioVec(1).count == 3)
        }
    }

    @Test func aDestinationIsWrittenIntoTheVectorsAddressStorage() {
        let vector = MessageVector(capacity: 1)
        let message = vector.prepare(iovecs: 0, destination: .loopbackIPv4(port: 4242))
        #expect(message.pointee.msg_namelen > 0)
        #expect(vector.receivedAddress == .loopbackIPv4(port: 4242))
    }

    @Test func aReceiveHeaderHasRoomForAnyAddress() {
        let vector = MessageVector(capacity: 1)
        let message = vector.prepareForReceive(iovecs: 1)
        #expect(Int(message.pointee.msg_namelen) == MemoryLayout<sockaddr_storage>.size)
    }
}
