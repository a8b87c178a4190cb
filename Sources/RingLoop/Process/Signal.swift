#if canImport(Glibc)
import Glibc
#endif

/// A POSIX signal, named as in swift-subprocess (`.interrupt`, `.terminate`,
/// `.kill`…). Any number works through `init(rawValue:)`.
public struct Signal: Hashable, Sendable, CustomStringConvertible {
    /// The signal number (`SIGINT`…).
    public let rawValue: Int32

    /// The signal with this number.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// `SIGINT` (Ctrl-C).
    public static var interrupt: Signal { Signal(rawValue: SIGINT) }
    /// `SIGTERM`: please stop.
    public static var terminate: Signal { Signal(rawValue: SIGTERM) }
    /// `SIGKILL`: cannot be caught or ignored.
    public static var kill: Signal { Signal(rawValue: SIGKILL) }
    /// `SIGHUP`: the terminal went away (daemons: reload).
    public static var terminalClosed: Signal { Signal(rawValue: SIGHUP) }
    /// `SIGQUIT` (Ctrl-\).
    public static var quit: Signal { Signal(rawValue: SIGQUIT) }
    /// `SIGUSR1`.
    public static var userDefinedOne: Signal { Signal(rawValue: SIGUSR1) }
    /// `SIGUSR2`.
    public static var userDefinedTwo: Signal { Signal(rawValue: SIGUSR2) }
    /// `SIGALRM`.
    public static var alarm: Signal { Signal(rawValue: SIGALRM) }
    /// `SIGWINCH`: the terminal was resized.
    public static var windowSizeChange: Signal { Signal(rawValue: SIGWINCH) }
    /// `SIGSTOP`: suspends the process (cannot be caught).
    public static var suspend: Signal { Signal(rawValue: SIGSTOP) }
    /// `SIGCONT`: resumes a suspended process.
    public static var resume: Signal { Signal(rawValue: SIGCONT) }

    /// The signal's name (`"SIGTERM"`), or its number for the rarer ones.
    public var description: String {
        switch rawValue {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGKILL: return "SIGKILL"
        case SIGHUP: return "SIGHUP"
        case SIGQUIT: return "SIGQUIT"
        case SIGUSR1: return "SIGUSR1"
        case SIGUSR2: return "SIGUSR2"
        case SIGALRM: return "SIGALRM"
        case SIGWINCH: return "SIGWINCH"
        case SIGSTOP: return "SIGSTOP"
        case SIGCONT: return "SIGCONT"
        case SIGABRT: return "SIGABRT"
        case SIGSEGV: return "SIGSEGV"
        case SIGPIPE: return "SIGPIPE"
        default: return "signal \(rawValue)"
        }
    }
}
