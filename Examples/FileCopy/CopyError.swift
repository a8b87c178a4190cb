import RingLoop
import SystemPackage

/// Why file-copy stops: each case prints as one line.
enum CopyError: Error {
    /// The command line is wrong (exit status 2).
    case usage(String)
    /// `--help` was asked for (exit status 0).
    case help
    /// The copy failed (exit status 1).
    case failed(String)

    /// A failure of `what` on `path` ("cannot read 'a.bin': Permission denied").
    static func io(_ what: String, _ path: String, _ error: any Error) -> CopyError {
        switch error {
        case let error as CopyError:
            return error
        case let error as IOError:
            return .failed("cannot \(what) '\(path)': \(error.errno)")
        case let error as EndOfFileError:
            return .failed("'\(path)' shrank while being copied (\(error))")
        case is CancellationError:
            return .failed("interrupted while trying to \(what) '\(path)'")
        default:
            return .failed("cannot \(what) '\(path)': \(error)")
        }
    }

    var message: String {
        switch self {
        case let .usage(text): return "file-copy: \(text) (see --help)"
        case .help: return CopyOptions.usage
        case let .failed(text): return "file-copy: \(text)"
        }
    }

    var exitStatus: Int32 {
        switch self {
        case .usage: return 2
        case .help: return 0
        case .failed: return 1
        }
    }
}
