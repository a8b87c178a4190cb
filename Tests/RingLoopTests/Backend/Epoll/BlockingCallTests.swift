import Foundation
import Testing
@testable import RingLoop

@Suite("BlockingCall")
struct BlockingCallTests {
    @Test func fileCallsReturnResultsOrNegativeErrnoLikeTheRing() throws {
        let h = try ReactorHarness()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("epoll-files-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func run(_ call: BlockingCall, fd: Int32 = -1) -> Int32 {
            let id = h.submit(.blocking(fd: fd, call: call))
            return h.run(until: id).last?.result ?? Int32.min
        }
        directory.withCString { dir in
            #expect(run(.mkdirAt(directory: AT_FDCWD, path: dir, mode: 0o700)) == 0)
            #expect(run(.mkdirAt(directory: AT_FDCWD, path: dir, mode: 0o700)) == -EEXIST)
            let fd = "\(directory)/a".withCString { path in
                run(.openAt(directory: AT_FDCWD, path: path, flags: O_RDWR | O_CREAT | O_CLOEXEC, mode: 0o600))
            }
            #expect(fd >= 0)
            defer { close(fd) }
            let text = Array("0123456789".utf8)
            text.withUnsafeBytes { bytes in
                #expect(run(.write(fd: fd, from: bytes.baseAddress!, count: 10, offset: 0), fd: fd) == 10)
            }
            var four = [UInt8](repeating: 0, count: 4)
            four.withUnsafeMutableBytes { bytes in
                #expect(run(.read(fd: fd, into: bytes.baseAddress!, count: 4, offset: 6), fd: fd) == 4)
            }
            #expect(four == Array("6789".utf8))
            #expect(run(.fallocate(fd: fd, mode: 0, offset: 0, length: 4096), fd: fd) == 0)
            #expect(run(.ftruncate(fd: fd, length: 3), fd: fd) == 0)
            #expect(run(.fsync(fd: fd, dataOnly: true), fd: fd) == 0)
            let statx = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 8)
            defer { statx.deallocate() }
            "\(directory)/a".withCString { path in
                #expect(run(.statx(directory: AT_FDCWD, path: path, flags: 0, mask: 0x7ff, into: statx)) == 0)
                // stx_size sits at byte 40 of struct statx.
                #expect(statx.load(fromByteOffset: 40, as: UInt64.self) == 3)
                "\(directory)/b".withCString { other in
                    #expect(run(.renameAt(fromDirectory: AT_FDCWD, from: path, toDirectory: AT_FDCWD, to: other, flags: 0)) == 0)
                    #expect(run(.unlinkAt(directory: AT_FDCWD, path: path, flags: 0)) == -ENOENT)
                    #expect(run(.unlinkAt(directory: AT_FDCWD, path: other, flags: 0)) == 0)
                }
            }
        }
        #expect(h.reactor.live == 0)
    }
}
