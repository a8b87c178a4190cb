/// What the command line asked for.
struct CopyOptions {
    var source = ""
    var destination = ""
    /// Replace an existing destination.
    var force = false
    /// Re-read both files after copying and compare them.
    var verify = false
    /// No progress bar even on a terminal.
    var quiet = false
    /// Bytes per read/write. 256K measured best here: a block still fits the
    /// per-core L2 cache between its read and its write, and 16 of them
    /// (4 MiB) stay well inside the shared L3 (scripts/measure-file-copy).
    var blockSize = 256 << 10
    /// Blocks in flight (each has its own buffer).
    var queueDepth = 16
    /// O_DIRECT on both files (falls back to the page cache where a file
    /// system refuses it).
    var direct = false
    /// Register the buffers with the ring (io_uring fixed buffers).
    var fixedBuffers = false
    /// Reserve the destination's blocks up front (fallocate) when the source
    /// is not sparse.
    var preallocate = true
    /// fsync the copy before renaming it into place.
    var sync = false
    /// Write to an anonymous O_TMPFILE where the file system allows (no
    /// command-line flag: tests turn it off to exercise the named fallback).
    var anonymousTemporary = true

    static let usage = """
        usage: file-copy [options] SRC DST

        Copies the regular file SRC to DST (or into DST if it is a directory) with
        a pipeline of io_uring reads and writes. The copy is written to an
        anonymous file in DST's directory (or, where the file system lacks
        O_TMPFILE, a hidden temporary name that a later run removes if the copy
        was killed) and put in place when complete, so a failed or interrupted
        copy leaves no partial destination. Files whose size reads as 0, like
        those in /proc and /sys, are read until their end.

        options:
          -f, --force             replace DST if it exists
              --verify            re-read both files after copying and compare them
          -q, --quiet             no progress bar (none is shown unless stderr is a terminal)
          -b, --block-size SIZE   bytes per read/write, e.g. 128K, 1M (default 256K)
          -d, --queue-depth N     blocks in flight (default 16)
              --direct            O_DIRECT: bypass the page cache (cold or huge copies)
              --fixed-buffers     register the buffers with io_uring
              --no-preallocate    don't reserve DST's space before writing
              --sync              flush DST to storage before renaming it into place
          -h, --help              show this help
        """

    /// Parses `arguments` (without the program name). Throws a one-line
    /// usage message.
    static func parse(_ arguments: [String]) throws(CopyError) -> CopyOptions {
        var options = CopyOptions()
        var positional: [String] = []
        var index = 0
        func value(for flag: String) throws(CopyError) -> String {
            index += 1
            guard index < arguments.count else { throw .usage("\(flag) needs a value") }
            return arguments[index]
        }
        var onlyPositional = false
        while index < arguments.count {
            let argument = arguments[index]
            if onlyPositional || !argument.hasPrefix("-") || argument == "-" {
                positional.append(argument)
                index += 1
                continue
            }
            switch argument {
            case "--": onlyPositional = true
            case "-f", "--force": options.force = true
            case "--verify": options.verify = true
            case "-q", "--quiet": options.quiet = true
            case "--direct": options.direct = true
            case "--fixed-buffers": options.fixedBuffers = true
            case "--no-preallocate": options.preallocate = false
            case "--sync": options.sync = true
            case "-h", "--help": throw .help
            case "-b", "--block-size":
                let text = try value(for: argument)
                guard let size = parseSize(text), size >= 4096, size <= 1 << 30, size % 4096 == 0 else {
                    throw .usage("bad block size '\(text)' (a multiple of 4K between 4K and 1G)")
                }
                options.blockSize = size
            case "-d", "--queue-depth":
                let text = try value(for: argument)
                guard let depth = Int(text), depth >= 1, depth <= 256 else {
                    throw .usage("bad queue depth '\(text)' (1 to 256)")
                }
                options.queueDepth = depth
            default:
                throw .usage("unknown option '\(argument)'")
            }
            index += 1
        }
        guard positional.count == 2 else {
            throw .usage(positional.count < 2 ? "missing SRC or DST" : "too many arguments")
        }
        options.source = positional[0]
        options.destination = positional[1]
        return options
    }

    /// "512K", "1M", "4096" → bytes.
    static func parseSize(_ text: String) -> Int? {
        let units: [Character: Int] = ["K": 1 << 10, "k": 1 << 10, "M": 1 << 20, "m": 1 << 20, "G": 1 << 30, "g": 1 << 30]
        if let last = text.last, let unit = units[last] {
            return Int(text.dropLast()).flatMap { $0.multipliedReportingOverflow(by: unit).overflow ? nil : $0 * unit }
        }
        return Int(text)
    }
}
