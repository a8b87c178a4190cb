import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Where a file's data lies, so a copy skips its holes.
enum DataExtents {
    /// SEEK_DATA and SEEK_HOLE (the same on every Linux architecture; glibc
    /// names them only under _GNU_SOURCE).
    private static let seekData = FileDescriptor.SeekOrigin(rawValue: 3)
    private static let seekHole = FileDescriptor.SeekOrigin(rawValue: 4)

    /// The byte ranges holding data. A file whose allocation covers its size
    /// is one extent; a sparse one is walked with SEEK_DATA/SEEK_HOLE (cheap
    /// lseek calls: io_uring has no such operation). File systems without
    /// hole support answer with one extent.
    static func of(_ fd: FileDescriptor, size: Int64, allocated: Int64) throws -> [Range<Int64>] {
        guard size > 0 else { return [] }
        guard allocated < size else { return [0..<size] }
        var extents: [Range<Int64>] = []
        var position: Int64 = 0
        while position < size {
            let start: Int64
            do {
                start = try fd.seek(offset: position, from: seekData)
            } catch Errno.noSuchAddressOrDevice {
                break  // ENXIO: no data after `position`
            }
            let end = min(try fd.seek(offset: start, from: seekHole), size)
            if end > start { extents.append(start..<end) }
            position = end
        }
        return extents
    }
}
