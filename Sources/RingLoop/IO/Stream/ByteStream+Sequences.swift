/// Reading a stream as a sequence of chunks or of lines.
extension ByteStream {
    /// The stream's bytes as they arrive: each element is what one read
    /// returned (1 to `maxChunk` bytes). Ends at end of stream; throws what a
    /// read throws.
    ///
    /// ```swift
    /// for try await chunk in stdout.chunks() { total += chunk.count }
    /// ```
    public func chunks(maxChunk: Int = 64 << 10) -> Chunks {
        Chunks(stream: self, maxChunk: max(1, maxChunk))
    }

    /// The stream's lines, split on `\n` (a trailing `\r` is kept), decoded as
    /// UTF-8 (invalid bytes are repaired). A last line without a newline is
    /// delivered at end of stream. Each line is yielded as soon as its newline
    /// arrives.
    public var lines: Lines { Lines(stream: self) }

    /// An `AsyncSequence` of the chunks read from a stream.
    public struct Chunks: AsyncSequence, Sendable {
        public typealias Element = [UInt8]
        let stream: ByteStream
        let maxChunk: Int

        public func makeAsyncIterator() -> Iterator {
            Iterator(stream: stream, buffer: FileBuffer(capacity: maxChunk))
        }

        /// Reads the next chunk; nil at end of stream.
        public struct Iterator: AsyncIteratorProtocol {
            let stream: ByteStream
            let buffer: FileBuffer
            var finished = false

            public mutating func next() async throws -> [UInt8]? {
                guard !finished else { return nil }
                let n = try await stream.read(into: buffer)
                if n == 0 {
                    finished = true
                    return nil
                }
                return buffer.bytes(0..<n)
            }
        }
    }

    /// An `AsyncSequence` of the lines read from a stream.
    public struct Lines: AsyncSequence, Sendable {
        public typealias Element = String
        let stream: ByteStream

        public func makeAsyncIterator() -> Iterator {
            Iterator(chunks: stream.chunks().makeAsyncIterator())
        }

        /// Reads until the next newline; nil at end of stream.
        public struct Iterator: AsyncIteratorProtocol {
            var chunks: Chunks.Iterator
            var pending: [UInt8] = []
            /// Where the next line starts in `pending` (lines before it were
            /// delivered; compacted when a chunk is appended).
            var start = 0
            /// Where to resume looking for a newline in `pending`.
            var scanned = 0
            var ended = false

            public mutating func next() async throws -> String? {
                while true {
                    if let newline = pending[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                        let line = String(decoding: pending[start..<newline], as: UTF8.self)
                        start = newline + 1
                        scanned = start
                        return line
                    }
                    scanned = pending.count
                    if ended {
                        guard start < pending.count else { return nil }
                        defer { pending = []; start = 0; scanned = 0 }
                        return String(decoding: pending[start...], as: UTF8.self)
                    }
                    if let chunk = try await chunks.next() {
                        // Drop the delivered lines once per chunk, not per line.
                        pending.removeSubrange(..<start)
                        scanned -= start
                        start = 0
                        pending.append(contentsOf: chunk)
                    } else {
                        ended = true
                    }
                }
            }
        }
    }
}
