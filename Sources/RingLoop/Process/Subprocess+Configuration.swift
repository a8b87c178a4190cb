import SystemPackage

extension Subprocess {
    /// What to run: a name looked up on `PATH`, or a path.
    public struct Executable: Sendable, Hashable, CustomStringConvertible {
        enum Storage: Sendable, Hashable { case name(String), path(FilePath) }
        let storage: Storage

        /// A name looked up in the `PATH` of the child's environment (the
        /// parent's if the child's has none); a name with a `/` is a path.
        public static func name(_ name: String) -> Executable { Executable(storage: .name(name)) }
        /// A path, used as is (a relative one resolves against the child's
        /// working directory).
        public static func path(_ path: FilePath) -> Executable { Executable(storage: .path(path)) }

        public var description: String {
            switch storage {
            case let .name(name): return name
            case let .path(path): return path.string
            }
        }
    }

    /// The child's environment variables.
    public struct Environment: Sendable, Hashable {
        let inherits: Bool
        let changes: [String: String?]

        /// The parent's environment, as it is at spawn time.
        public static var inherit: Environment { Environment(inherits: true, changes: [:]) }
        /// Exactly these variables.
        public static func custom(_ variables: [String: String]) -> Environment {
            Environment(inherits: false, changes: variables.mapValues { Optional($0) })
        }
        /// This environment with variables set (or, for nil, removed).
        public func updating(_ changes: [String: String?]) -> Environment {
            Environment(inherits: inherits, changes: self.changes.merging(changes) { $1 })
        }

        /// The `NAME=value` list the child gets.
        func resolved(parent: [String: String]) -> [String: String] {
            var variables = inherits ? parent : [:]
            for (name, value) in changes { variables[name] = value }
            return variables
        }
    }

    /// Where one of the child's standard streams goes.
    public enum Redirection: Sendable, Hashable {
        /// The parent's own descriptor (0, 1 or 2).
        case inherit
        /// `/dev/null`.
        case discarded
        /// A pipe whose other end becomes `Subprocess.standardInput`,
        /// `standardOutput` or `standardError`.
        case pipe
        /// This descriptor (duplicated; the caller still owns and closes it).
        case fileDescriptor(FileDescriptor)
    }
}
