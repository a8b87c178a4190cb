/// A read that had to fill its whole range met the end of the file first
/// (`File.readExactly`). Plain `read` reports the end of file as a short
/// count instead.
public struct EndOfFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where the read started.
    public var offset: Int64
    /// Bytes it needed.
    public var requested: Int
    /// Bytes there were (now in the buffer) before the end of the file.
    public var available: Int

    public init(offset: Int64, requested: Int, available: Int) {
        self.offset = offset
        self.requested = requested
        self.available = available
    }

    public var description: String {
        "end of file: needed \(requested) bytes at offset \(offset), found \(available)"
    }
}
