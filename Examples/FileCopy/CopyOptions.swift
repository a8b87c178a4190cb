import ExampleSupport

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
    /// Whether to keep the loop on one CPU and io_uring's kernel workers
    /// (which do the buffered writes) on the others, so reads and writes run
    /// on two cores; left to itself the scheduler may pull the worker onto
    /// the loop's CPU. nil (the default): only when a CPU is idle as the copy
    /// starts (fewer runnable threads than CPUs), since on a busy machine a
    /// pinned loop waits for its CPU while another is idle
    /// (scripts/measure-file-copy: 1.36x cp split vs 1.24x unpinned on an
    /// idle 2-CPU VM; split was 0.6x cp under a load of 3).
    var splitCPUs: Bool?
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
              --split-cpus        loop on one CPU, kernel write workers on the others
              --no-split-cpus     leave both to the scheduler (default: split when a CPU is idle at the start)
          -h, --help              show this help
        """

    /// Parses `arguments` (without the program name). Throws a one-line
    /// usage message.
    static func parse(_ arguments: [String]) throws(CopyError) -> CopyOptions {
        let args: CommandLineOptions
        do {
            args = try CommandLineOptions(
                arguments, usage: usage,
                options: ["--block-size", "--queue-depth"],
                switches: ["--force", "--verify", "--quiet", "--direct", "--fixed-buffers", "--no-preallocate", "--sync", "--split-cpus", "--no-split-cpus"],
                aliases: ["-f": "--force", "-q": "--quiet", "-b": "--block-size", "-d": "--queue-depth"]
            )
        } catch {
            // One line: the parser's first (the usage text follows it).
            throw error.isHelp ? .help : .usage(String(error.message.prefix { $0 != "\n" }))
        }
        var options = CopyOptions()
        options.force = args.has("--force")
        options.verify = args.has("--verify")
        options.quiet = args.has("--quiet")
        options.direct = args.has("--direct")
        options.fixedBuffers = args.has("--fixed-buffers")
        options.preallocate = !args.has("--no-preallocate")
        options.sync = args.has("--sync")
        if args.has("--split-cpus") && args.has("--no-split-cpus") {
            throw .usage("--split-cpus and --no-split-cpus contradict each other")
        }
        if args.has("--split-cpus") { options.splitCPUs = true }
        if args.has("--no-split-cpus") { options.splitCPUs = false }
        if let text = args.string("--block-size") {
            guard let size = CommandLineOptions.byteCount(text), size >= 4096, size <= 1 << 30, size % 4096 == 0 else {
                throw .usage("bad block size '\(text)' (a multiple of 4K between 4K and 1G)")
            }
            options.blockSize = size
        }
        if let text = args.string("--queue-depth") {
            guard let depth = Int(text), depth >= 1, depth <= 256 else {
                throw .usage("bad queue depth '\(text)' (1 to 256)")
            }
            options.queueDepth = depth
        }
        guard args.positional.count == 2 else {
            throw .usage(args.positional.count < 2 ? "missing SRC or DST" : "too many arguments")
        }
        options.source = args.positional[0]
        options.destination = args.positional[1]
        return options
    }
}
