/// How a child process ended.
public enum TerminationStatus: Sendable, Hashable, CustomStringConvertible {
    /// It exited with this code (`exit(3)`, or returning from `main`).
    case exited(Int32)
    /// A signal ended it (swift-subprocess calls this `unhandledException`).
    case signaled(Signal)

    /// Exited with code 0.
    public var isSuccess: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case let .exited(code): return "exited(\(code))"
        case let .signaled(signal): return "signaled(\(signal))"
        }
    }
}
