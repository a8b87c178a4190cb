#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// What statx(2) says about a file: its type, size, permissions, owner and
/// times.
///
/// ```swift
/// let status = try await file.stat()
/// if status.type == .regular, status.allocatedSize < status.size { print("sparse") }
/// ```
public struct FileStatus: Sendable, Hashable {
    /// The kind of file.
    public enum FileType: Sendable, Hashable {
        case regular, directory, symbolicLink, fifo, socket, characterDevice, blockDevice, unknown
    }

    /// A point in time, as seconds and nanoseconds since the Unix epoch.
    public struct Time: Sendable, Hashable, Comparable {
        public var seconds: Int64
        public var nanoseconds: UInt32

        public init(seconds: Int64, nanoseconds: UInt32) {
            self.seconds = seconds
            self.nanoseconds = nanoseconds
        }

        public static func < (lhs: Time, rhs: Time) -> Bool {
            (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
        }
    }

    /// The kind of file.
    public var type: FileType
    /// Permission bits, including set-user-ID, set-group-ID and sticky.
    public var permissions: FilePermissions
    /// Size in bytes (for a symbolic link, the length of its target).
    public var size: Int64
    /// Bytes of storage actually allocated; less than `size` for a sparse file.
    public var allocatedSize: Int64
    /// The file system's preferred I/O size.
    public var blockSize: Int
    /// Number of hard links.
    public var linkCount: Int
    /// Owner's user ID.
    public var userID: UInt32
    /// Owner's group ID.
    public var groupID: UInt32
    /// Inode number.
    public var inode: UInt64
    /// Device holding the file (major, minor).
    public var device: (major: UInt32, minor: UInt32) {
        get { (deviceMajor, deviceMinor) }
        set { (deviceMajor, deviceMinor) = newValue }
    }
    private var deviceMajor: UInt32
    private var deviceMinor: UInt32
    /// Last access.
    public var accessTime: Time
    /// Last modification of the contents.
    public var modificationTime: Time
    /// Last change of the inode (contents, permissions, links…).
    public var changeTime: Time
    /// Creation, where the file system records it.
    public var creationTime: Time?

    init(_ raw: StatxBuffer) {
        let mode = UInt32(raw.stx_mode)
        switch mode & 0o170000 {
        case 0o100000: type = .regular
        case 0o040000: type = .directory
        case 0o120000: type = .symbolicLink
        case 0o010000: type = .fifo
        case 0o140000: type = .socket
        case 0o020000: type = .characterDevice
        case 0o060000: type = .blockDevice
        default: type = .unknown
        }
        permissions = FilePermissions(rawValue: mode_t(mode & 0o7777))
        size = Int64(bitPattern: raw.stx_size)
        allocatedSize = Int64(bitPattern: raw.stx_blocks &* 512)
        blockSize = Int(raw.stx_blksize)
        linkCount = Int(raw.stx_nlink)
        userID = raw.stx_uid
        groupID = raw.stx_gid
        inode = raw.stx_ino
        deviceMajor = raw.stx_dev_major
        deviceMinor = raw.stx_dev_minor
        accessTime = Time(seconds: raw.stx_atime.seconds, nanoseconds: raw.stx_atime.nanoseconds)
        modificationTime = Time(seconds: raw.stx_mtime.seconds, nanoseconds: raw.stx_mtime.nanoseconds)
        changeTime = Time(seconds: raw.stx_ctime.seconds, nanoseconds: raw.stx_ctime.nanoseconds)
        let hasBirthTime = raw.stx_mask & FileConstants.statxBirthTime != 0
        creationTime = hasBirthTime ? Time(seconds: raw.stx_btime.seconds, nanoseconds: raw.stx_btime.nanoseconds) : nil
    }

    /// Whether both describe the same file (device and inode).
    public func isSameFile(as other: FileStatus) -> Bool {
        inode == other.inode && deviceMajor == other.deviceMajor && deviceMinor == other.deviceMinor
    }
}
