import CLiburing
#if canImport(Glibc)
import Glibc
#endif

/// Linux file constants that glibc names only under `_GNU_SOURCE` (the shim
/// spells them), gathered here so nothing above `Ring/` imports `CLiburing`.
enum FileConstants {
    static let direct = ringloop_O_DIRECT
    static let emptyPath = ringloop_AT_EMPTY_PATH
    static let renameNoReplace = UInt32(ringloop_RENAME_NOREPLACE)
    static let fallocateKeepSize = ringloop_FALLOC_FL_KEEP_SIZE
    static let fallocatePunchHole = ringloop_FALLOC_FL_PUNCH_HOLE
    static let removeDirectory = Int32(AT_REMOVEDIR)
    static let noFollowSymlinks = Int32(AT_SYMLINK_NOFOLLOW)
    static let statxBasic = ringloop_STATX_BASIC_STATS | ringloop_STATX_BTIME
    static let statxBirthTime = ringloop_STATX_BTIME
}

/// The statx(2) result buffer, owned by the operation that fills it.
package typealias StatxBuffer = ringloop_statx
