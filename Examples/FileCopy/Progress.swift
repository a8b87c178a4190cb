import RingLoop
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A progress bar on stderr, redrawn ten times a second, when stderr is a
/// terminal; silent otherwise.
final class Progress: Sendable {
    private let total: Int64
    private let label: String
    private let loop: EventLoop
    private let state = Mutex<(done: Int64, task: RepeatedTask?)>((0, nil))
    private let start = ContinuousClock.now

    init(total: Int64, label: String, enabled: Bool, loop: EventLoop) {
        self.total = total
        self.label = label
        self.loop = loop
        guard enabled, isatty(STDERR_FILENO) != 0 else { return }
        let task = loop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { [self] _ in
            draw(final: false)
        }
        state.withLock { $0.task = task }
    }

    func advance(by count: Int) {
        state.withLock { $0.done += Int64(count) }
    }

    /// Stops redrawing; on success draws the full bar and ends the line.
    func finish(success: Bool) {
        guard let task = state.withLock({ state in defer { state.task = nil }; return state.task }) else { return }
        task.cancel()
        if success { draw(final: true) } else { write("\n") }
    }

    private func draw(final: Bool) {
        let done = state.withLock { $0.done }
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let width = 30
        let filled = min(width, Int(fraction * Double(width)))
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" + String(repeating: " ", count: width - filled - 1) : "")
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Double(done) / seconds : 0
        let line = "\r\(label) [\(bar)] \(Int(fraction * 100))%  \(Progress.format(done))/\(Progress.format(total))  \(Progress.format(Int64(rate)))/s \u{1B}[K"
        write(final ? line + "\n" : line)
    }

    private func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in _ = Glibc.write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
    }

    static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : "\((value * 10).rounded() / 10) \(units[unit])"
    }
}
