#if canImport(Glibc)
import Glibc
#endif

/// The examples' one command-line parser: `--name value` options, `--flag`
/// switches and positional arguments, with typed, range-checked getters.
/// Names are spelled in full, long (`--jobs`) or short (`-j`).
///
///     let args = try CommandLineOptions(CommandLine.arguments.dropFirst(), usage: usage,
///                                       options: ["--port", "--loops"], aliases: ["--threads": "--loops"])
///     let port = try args.int("--port", in: 0...65535) ?? 7007
///
/// `--help` and `-h` are answered with the usage text (exit status 0); every
/// mistake throws a `UsageError` naming the option.
public struct CommandLineOptions: Sendable {
    /// The usage text, printed on `--help` and after a mistake.
    public let usage: String
    /// Arguments that are not options, in order.
    public private(set) var positional: [String] = []
    private var values: [String: String] = [:]
    private var switches: Set<String> = []

    /// Parses `arguments` (without the program name).
    /// - Parameters:
    ///   - options: names that take a value (`--port 7007`).
    ///   - switches: names that take none (`--verify`).
    ///   - aliases: other spellings, mapped to a name in `options` or `switches`.
    ///   - optionsEndAtFirstPositional: when true, the first positional
    ///     argument and everything after it are positional (a command line
    ///     that ends with another program's arguments: `-j 2 sh -c ...`).
    /// - Throws: `UsageError` for `--help`, an unknown option or a missing value.
    public init<S: Sequence<String>>(
        _ arguments: S, usage: String, options: Set<String>, switches: Set<String> = [],
        aliases: [String: String] = [:], optionsEndAtFirstPositional: Bool = false
    ) throws(UsageError) {
        self.usage = usage
        var rest = Array(arguments)[...]
        var onlyPositional = false
        while let argument = rest.popFirst() {
            if onlyPositional || !argument.hasPrefix("-") || argument == "-" {
                positional.append(argument)
                if optionsEndAtFirstPositional { onlyPositional = true }
                continue
            }
            if argument == "--" { onlyPositional = true; continue }
            if argument == "--help" || argument == "-h" { throw UsageError(usage, isHelp: true) }
            let name = aliases[argument] ?? argument
            if switches.contains(name) {
                self.switches.insert(name)
            } else if options.contains(name) {
                guard let value = rest.popFirst() else { throw UsageError("missing value for \(argument)\n\(usage)") }
                values[name] = value
            } else {
                throw UsageError("unknown option \(argument)\n\(usage)")
            }
        }
    }

    /// Whether the switch `name` was given.
    public func has(_ name: String) -> Bool { switches.contains(name) }

    /// The value of `name`, or nil when it was not given.
    public func string(_ name: String) -> String? { values[name] }

    /// An integer within `range`, or nil when `name` was not given.
    /// - Throws: `UsageError` when the value is not an integer in `range`.
    public func int(_ name: String, in range: ClosedRange<Int>) throws(UsageError) -> Int? {
        guard let text = values[name] else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw UsageError("bad \(name) \(text): expected an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// A byte count, plain or with a binary suffix (`4096`, `512K`, `1M`,
    /// `2G`; either case), within `range`; nil when `name` was not given.
    /// - Throws: `UsageError` when the value is not such a count in `range`.
    public func byteCount(_ name: String, in range: ClosedRange<Int>) throws(UsageError) -> Int? {
        guard let text = values[name] else { return nil }
        guard let value = Self.byteCount(text), range.contains(value) else {
            throw UsageError("bad \(name) \(text): expected a byte count (e.g. 4096, 512K, 1M) in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// "512K", "1M", "4096" → bytes; nil for anything else or on overflow.
    public static func byteCount(_ text: String) -> Int? {
        let units: [Character: Int] = ["K": 1 << 10, "k": 1 << 10, "M": 1 << 20, "m": 1 << 20, "G": 1 << 30, "g": 1 << 30]
        if let last = text.last, let unit = units[last] {
            return Int(text.dropLast()).flatMap { $0.multipliedReportingOverflow(by: unit).overflow ? nil : $0 * unit }
        }
        return Int(text)
    }

    /// A duration given in (possibly fractional) seconds, or nil when `name`
    /// was not given.
    /// - Throws: `UsageError` when the value is not a number of seconds of at
    ///   least `minimum`.
    public func seconds(_ name: String, atLeast minimum: Double = 0) throws(UsageError) -> Duration? {
        guard let text = values[name] else { return nil }
        guard let value = Double(text), value.isFinite, value >= minimum, value < 1e9 else {
            throw UsageError("bad \(name) \(text): expected seconds, at least \(minimum)")
        }
        return .nanoseconds(Int64(value * 1e9))
    }
}

/// A command-line mistake, or `--help`: the text to print.
public struct UsageError: Error, Sendable, CustomStringConvertible {
    /// What to print.
    public let message: String
    /// True for `--help`: print to stdout and exit 0.
    public let isHelp: Bool

    /// A mistake (or help) with the text to print.
    public init(_ message: String, isHelp: Bool = false) {
        self.message = message
        self.isHelp = isHelp
    }

    public var description: String { message }

    /// Prints the message (help to stdout, mistakes to stderr) and exits with
    /// 0 for help, 2 for a mistake.
    public func exit() -> Never {
        let text = message.hasSuffix("\n") ? message : message + "\n"
        _ = text.withCString { Glibc.write(isHelp ? 1 : 2, $0, strlen($0)) }
        Glibc.exit(isHelp ? 0 : 2)
    }
}
