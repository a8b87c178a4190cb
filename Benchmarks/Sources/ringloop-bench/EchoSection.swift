import Foundation

/// What bench-load prints: one JSON line.
struct LoadOutput: Decodable {
    var msgs: UInt64
    var bytes: UInt64
    var seconds: Double
    var msgsPerSec: Double
    var mibPerSec: Double
    var p50Us: Double
    var p99Us: Double
    var p999Us: Double
    var errors: UInt64
    var maxUs: Double?
    var meanUs: Double?
}

/// One server at one point (connections × message size, closed loop or an offered rate).
struct EchoRun: Codable {
    var server: String
    var connections: Int
    var size: Int
    /// Open loop: the msgs/s offered; nil in the closed loop.
    var offeredRate: Double?
    var status = "ok"
    var msgs: UInt64 = 0
    var bytes: UInt64 = 0
    var seconds: Double = 0
    var msgsPerSec: Double = 0
    var mibPerSec: Double = 0
    var p50Us: Double = 0
    var p99Us: Double = 0
    var p999Us: Double = 0
    var maxUs: Double?
    var meanUs: Double?
    var errors: UInt64 = 0
    /// Server utime + stime over the measured window (tick resolution).
    var serverCpuUs: Double?
    var serverCpuPct: Double?
    var cpuUsPerMsg: Double?
    /// Server VmRSS at the end of the measured window.
    var serverRssMib: Double?
    /// The load generator's CPU share over the window: near 100 × threads means the
    /// generator, not the server, set the pace.
    var loadCpuPct: Double?
    /// Machine-wide CPU over the window, in percent of one CPU (200 = two CPUs busy).
    var machineBusyPct: Double?
    /// Softirq share of that: loopback TCP work that /proc/PID/stat charges to no process.
    var softirqPct: Double?
    /// Busy CPU not explained by the server, the load generator or softirq: other work on the
    /// machine that may have disturbed this run.
    var otherCpuPct: Double?
    /// Reference server's msgs/s divided by this one's.
    var ratio: Double?
    /// Open loop: reference server's CPU µs/msg and p99 divided by this one's (<1: the
    /// reference is cheaper, or faster).
    var cpuRatio: Double?
    var p99Ratio: Double?

    var ok: Bool { status == "ok" }
    var fellBehind: Bool { status.hasPrefix("fell behind") }

    init(server: String, connections: Int, size: Int, offeredRate: Double? = nil) {
        self.server = server
        self.connections = connections
        self.size = size
        self.offeredRate = offeredRate
    }
}

struct EchoConfig: Codable {
    var connections: [Int]
    var sizes: [Int]
    var duration: Double
    var warmup: Double
    var depth: Int
    var rate: Double?
    var loadThreads: Int
    var host = "127.0.0.1"
    var servers: [ServerSpec]
    /// Ratios are reference msgs/s ÷ server msgs/s: ringloop when it ran, else the first server.
    var reference: String
    var notes: [String]
    /// After the closed-loop grid (when `rate` is nil): open-loop points at these connection
    /// counts × sizes, each at `openRate` msgs/s, or at `openFraction` of the slowest
    /// server's closed-loop msgs/s at that point.
    var openConnections: [Int] = []
    var openSizes: [Int] = []
    var openRate: Double?
    var openFraction = 0.5
}

/// Echo over TCP on loopback: every server kind against bench-load, point by point.
struct EchoSection: BenchmarkSection {
    let id = SectionID.echo
    var config: EchoConfig
    var loadPath: String

    func run() -> any SectionReport {
        var report = EchoReport(config: config)
        let points = config.connections.flatMap { c in config.sizes.map { (c, $0) } }
        for (index, point) in points.enumerated() {
            // All servers run back to back at each point, so machine noise hits them alike;
            // the order rotates from point to point so that no server always goes first.
            let n = config.servers.count
            for k in 0..<n {
                let server = config.servers[(index + k) % n]
                log("echo [\(index + 1)/\(points.count)] \(server.name): \(point.0) connections, "
                    + "\(byteSize(point.1)) messages")
                let run = runOne(server, connections: point.0, size: point.1, rate: config.rate)
                if run.ok {
                    log("    \(grouped(run.msgsPerSec)) msgs/s, p99 \(sig3(run.p99Us)) µs")
                } else {
                    log("    \(run.status)")
                }
                report.runs.append(run)
            }
        }
        report.computeRatios()
        if config.rate == nil { runOpenLoop(&report) }
        return report
    }

    /// The open-loop pass: every server at the same offered rate, so that servers which all
    /// keep up are told apart by CPU per message and latency.
    private func runOpenLoop(_ report: inout EchoReport) {
        let points = config.openConnections.flatMap { c in config.openSizes.map { (c, $0) } }
        for (index, point) in points.enumerated() {
            let closed = report.runs.filter { $0.connections == point.0 && $0.size == point.1 && $0.ok }
            var rate = config.openRate
            if rate == nil, let slowest = closed.map(\.msgsPerSec).min(), slowest > 0 {
                rate = roundedRate(slowest * config.openFraction)
            }
            guard let rate else {
                log("echo open loop: \(point.0) connections × \(byteSize(point.1)) skipped (no closed-loop figures "
                    + "to pick a rate from: give --open-rate)")
                continue
            }
            let n = config.servers.count
            for k in 0..<n {
                let server = config.servers[(index + k) % n]
                log("echo open loop [\(index + 1)/\(points.count)] \(server.name): \(point.0) connections, "
                    + "\(byteSize(point.1)) messages, \(grouped(rate)) msgs/s offered")
                let run = runOne(server, connections: point.0, size: point.1, rate: rate)
                if run.ok {
                    log("    \(grouped(run.msgsPerSec)) msgs/s, p99 \(sig3(run.p99Us)) µs, "
                        + "CPU \(sig3(run.cpuUsPerMsg)) µs/msg")
                } else {
                    log("    \(run.status)")
                }
                report.openRuns.append(run)
            }
        }
        report.computeOpenRatios()
    }

    /// Two significant figures: 23,456 -> 23,000.
    private func roundedRate(_ rate: Double) -> Double {
        let scale = pow(10, floor(log10(rate)) - 1)
        return max(1, (rate / scale).rounded(.down) * scale)
    }

    private func runOne(_ server: ServerSpec, connections: Int, size: Int, rate: Double?) -> EchoRun {
        var run = EchoRun(server: server.name, connections: connections, size: size, offeredRate: rate)
        func fail(_ why: String, _ child: ChildProcess? = nil) -> EchoRun {
            var text = "failed: " + why
            if let tail = child?.stderr.text.split(separator: "\n").suffix(3), !tail.isEmpty {
                text += " [stderr: " + tail.joined(separator: " | ") + "]"
            }
            run.status = text
            return run
        }

        let srv: ChildProcess
        do {
            srv = try ChildProcess(name: server.name, argv: server.command + ["--port", "0"])
        } catch {
            return fail("\(error)")
        }
        defer { srv.stop() }

        var port: Int?
        _ = pump(srv.readers, until: monotonicSeconds() + 15) {
            while port == nil, let line = srv.stdout.takeLine() {
                let words = line.split(separator: " ")
                if words.count == 2, words[0] == "PORT", let p = Int(words[1]), p > 0 { port = p }
            }
            return port != nil || srv.poll()
        }
        guard let port else {
            srv.stop()
            return fail("server printed no 'PORT <n>' line (\(srv.statusText))", srv)
        }

        var args = [
            loadPath, "--host", config.host, "--port", String(port),
            "--connections", String(connections), "--size", String(size),
            "--depth", String(config.depth), "--duration", String(config.duration),
            "--warmup", String(config.warmup), "--threads", String(config.loadThreads),
            "--marks-fd", "3",
        ]
        if let rate { args += ["--rate", String(rate)] }
        let load: ChildProcess
        do {
            load = try ChildProcess(name: "bench-load", argv: args, marksPipe: true)
        } catch {
            return fail("\(error)")
        }

        var cpuStart: Double?, cpuEnd: Double?, loadStart: Double?, loadEnd: Double?
        var rss: Double?
        var sysStart: SystemCPUTimes?, sysEnd: SystemCPUTimes?
        // Connecting 10,000 sockets takes a moment; everything else is the configured window.
        let deadline = monotonicSeconds() + config.warmup + config.duration + 60
        let finished = pump(load.readers + srv.readers, until: deadline) {
            while let mark = load.marks?.takeLine() {
                if mark == "start" {
                    cpuStart = ProcStats.cpuMicroseconds(srv.pid)
                    loadStart = ProcStats.cpuMicroseconds(load.pid)
                    sysStart = SystemCPUTimes.now()
                } else if mark == "end" {
                    cpuEnd = ProcStats.cpuMicroseconds(srv.pid)
                    loadEnd = ProcStats.cpuMicroseconds(load.pid)
                    rss = ProcStats.rssMiB(srv.pid)
                    sysEnd = SystemCPUTimes.now()
                }
            }
            return load.stdout.eof && load.stderr.eof && (load.marks?.eof ?? true)
        }
        if !finished || !load.wait(until: monotonicSeconds() + 10) {
            load.stop(grace: 0.5)
            return fail("bench-load did not finish in time", load)
        }
        if srv.poll() {
            return fail("server exited during the run (\(srv.statusText))", srv)
        }

        let code = load.exitCode
        if code == 3 {
            let detail = load.stderr.text.split(separator: "\n").last.map(String.init) ?? ""
            log("!!! \(server.name): \(detail)")
            run.status = "failed: " + detail
            return run
        }
        guard code == 0 || code == 4,
              let line = load.stdout.text.split(separator: "\n").last,
              let out = try? decoder.decode(LoadOutput.self, from: Data(line.utf8))
        else {
            return fail("bench-load \(load.statusText)", load)
        }

        run.msgs = out.msgs
        run.bytes = out.bytes
        run.seconds = out.seconds
        run.msgsPerSec = out.msgsPerSec
        run.mibPerSec = out.mibPerSec
        run.p50Us = out.p50Us
        run.p99Us = out.p99Us
        run.p999Us = out.p999Us
        run.maxUs = out.maxUs
        run.meanUs = out.meanUs
        run.errors = out.errors
        if let a = cpuStart, let b = cpuEnd {
            run.serverCpuUs = b - a
            run.serverCpuPct = (b - a) / (out.seconds * 1e6) * 100
            if out.msgs > 0 { run.cpuUsPerMsg = (b - a) / Double(out.msgs) }
        }
        if let a = loadStart, let b = loadEnd { run.loadCpuPct = (b - a) / (out.seconds * 1e6) * 100 }
        run.serverRssMib = rss
        if let a = sysStart, let b = sysEnd,
           let pct = SystemCPUTimes.percent(from: a, to: b, cpus: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        {
            run.machineBusyPct = pct.busy
            run.softirqPct = pct.softirq
            run.otherCpuPct = max(0, pct.busy - pct.softirq - (run.serverCpuPct ?? 0) - (run.loadCpuPct ?? 0))
        }
        if out.errors > 0 { run.status = "failed: \(out.errors) connection errors" }
        if out.msgs == 0 {
            run.status = "failed: no message completed in the window (a longer --warmup/--duration may help)"
        }
        if let rate, run.ok, out.msgsPerSec < rate * 0.9 {
            run.status = "fell behind: \(grouped(out.msgsPerSec)) of \(grouped(rate)) msgs/s offered"
        }
        return run
    }

    private var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}

struct EchoReport: SectionReport {
    var id = SectionID.echo
    var config: EchoConfig
    var runs: [EchoRun] = []
    var openRuns: [EchoRun] = []

    init(config: EchoConfig) {
        self.config = config
    }

    /// Failed runs; an open-loop server that fell behind the offered rate is a finding
    /// (shown in the table), not a failure.
    var failures: [String] {
        (runs + openRuns).filter { !$0.ok && !$0.fellBehind }.map {
            "echo \($0.server) \($0.connections) conns \(byteSize($0.size))"
                + ($0.offeredRate.map { " at \(grouped($0)) msgs/s" } ?? "") + ": \($0.status)"
        }
    }

    mutating func computeOpenRatios() {
        for i in openRuns.indices where openRuns[i].ok {
            let r = openRuns[i]
            guard let ref = openRuns.first(where: {
                $0.server == config.reference && $0.connections == r.connections && $0.size == r.size && $0.ok
            }) else { continue }
            if let mine = r.cpuUsPerMsg, let theirs = ref.cpuUsPerMsg, mine > 0 { openRuns[i].cpuRatio = theirs / mine }
            if r.p99Us > 0 { openRuns[i].p99Ratio = ref.p99Us / r.p99Us }
        }
    }

    private func openTable() -> String {
        var t = TextTable(
            headers: ["conns", "size", "offered/s", "server", "msgs/s", "p50 µs", "p99 µs", "p99.9 µs",
                      "CPU µs/msg", "CPU %", "RSS MiB", "CPU \(config.reference)/x", "p99 \(config.reference)/x"],
            leftAligned: [3])
        var previous: (Int, Int)?
        for c in config.openConnections {
            for s in config.openSizes {
                let point = openRuns.filter { $0.connections == c && $0.size == s }
                guard !point.isEmpty else { continue }
                if previous != nil { t.separator() }
                previous = (c, s)
                for name in serverOrder {
                    guard let r = point.first(where: { $0.server == name }) else { continue }
                    let offered = grouped(r.offeredRate ?? .nan)
                    if r.ok || r.fellBehind {
                        t.add([String(c), byteSize(s), offered, name + (r.fellBehind ? " (behind)" : ""),
                               grouped(r.msgsPerSec), sig3(r.p50Us), sig3(r.p99Us), sig3(r.p999Us),
                               sig3(r.cpuUsPerMsg), fixed(r.serverCpuPct, 0), fixed(r.serverRssMib, 1),
                               fixed(r.cpuRatio, 2), fixed(r.p99Ratio, 2)])
                    } else {
                        t.add([String(c), byteSize(s), offered, name, "FAILED", "", "", "", "", "", "", "", ""])
                    }
                }
            }
        }
        let header = "echo, open loop: every server at the same offered rate (half the slowest server's "
            + "closed-loop rate at that point unless --open-rate), latency from the scheduled send; "
            + "CPU and p99 \(config.reference)/x = \(config.reference)'s ÷ this server's (<1: \(config.reference) "
            + "cheaper or faster)"
        return header + "\n" + t.render()
    }

    mutating func computeRatios() {
        for i in runs.indices where runs[i].ok {
            let r = runs[i]
            let ref = runs.first {
                $0.server == config.reference && $0.connections == r.connections && $0.size == r.size && $0.ok
            }
            if let ref, r.msgsPerSec > 0 { runs[i].ratio = ref.msgsPerSec / r.msgsPerSec }
        }
    }

    private var serverOrder: [String] { config.servers.map(\.name) }

    func table() -> String {
        var t = TextTable(
            headers: ["conns", "size", "server", "msgs/s", "MiB/s", "p50 µs", "p99 µs", "p99.9 µs",
                      "CPU µs/msg", "RSS MiB", "\(config.reference)/x"],
            leftAligned: [2]
        )
        var first = true
        for c in config.connections {
            for s in config.sizes {
                if !first { t.separator() }
                first = false
                for name in serverOrder {
                    guard let r = runs.first(where: { $0.server == name && $0.connections == c && $0.size == s })
                    else { continue }
                    if r.ok {
                        t.add([String(c), byteSize(s), name, grouped(r.msgsPerSec), sig3(r.mibPerSec),
                               sig3(r.p50Us), sig3(r.p99Us), sig3(r.p999Us), sig3(r.cpuUsPerMsg),
                               fixed(r.serverRssMib, 1), fixed(r.ratio, 2)])
                    } else {
                        t.add([String(c), byteSize(s), name, "FAILED", "", "", "", "", "", "", ""])
                    }
                }
            }
        }
        let mode = config.rate.map { "open loop at \(grouped($0)) msgs/s" }
            ?? "closed loop, depth \(config.depth)"
        var header = "echo: \(mode); \(fixed(config.duration, 2)) s measured after "
            + "\(fixed(config.warmup, 2)) s warm-up; \(config.loadThreads) load thread(s); "
            + "\(config.reference)/x = \(config.reference) msgs/s ÷ server msgs/s"
        for note in config.notes { header += "\nnote: " + note }
        let noisy = runs.filter { ($0.otherCpuPct ?? 0) > 25 }
        if !noisy.isEmpty {
            let worst = noisy.compactMap(\.otherCpuPct).max() ?? 0
            header += "\nnote: other work on the machine used over 25% of a CPU during \(noisy.count) of "
                + "\(runs.count) runs (up to \(fixed(worst, 0))%): compare within a point, not across runs"
        }
        var out = header + "\n" + t.render()
        if !openRuns.isEmpty { out += "\n\n" + openTable() }
        return out
    }

    func chart(machine: MachineDescription) -> SVGFigure? {
        let palette = ["c": "#1f77b4", "blocking": "#ff7f0e", "nio": "#2ca02c", "tokio": "#9467bd", "ringloop-epoll": "#e377c2", "ringloop": "#d62728"]
        let extra = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
        let colors = serverOrder.enumerated().map { i, name in palette[name] ?? extra[i % extra.count] }
        let categories = config.connections.map { grouped(Double($0)) }
        func series(size: Int, _ value: (EchoRun) -> Double) -> [ChartSeries] {
            serverOrder.enumerated().map { i, name in
                ChartSeries(name: name, color: colors[i], values: config.connections.map { c in
                    runs.first { $0.server == name && $0.connections == c && $0.size == size && $0.ok }.map(value)
                })
            }
        }
        let panelW = 470.0, panelH = 290.0, top = 62.0
        let mode = config.rate.map { "open loop, \(grouped($0)) msgs/s offered" }
            ?? "closed loop, depth \(config.depth)"
        var body = text(16, 22, "RingLoop echo benchmark: \(mode), \(fixed(config.duration, 1)) s per point",
                        size: 16, anchor: "start", weight: "bold")
        body += text(16, 40, machine.summary, size: 11, anchor: "start")
        body += legend(x: 16, y: 58, serverOrder.enumerated().map { ($0.element, colors[$0.offset]) })
        for (row, size) in config.sizes.enumerated() {
            let y = top + Double(row) * panelH
            let throughput = LineChart(
                title: "throughput, \(byteSize(size)) messages (msgs/s)", xLabel: "connections",
                categories: categories, series: series(size: size) { $0.msgsPerSec }, logY: false,
                yFormat: shortCount)
            let latency = LineChart(
                title: "p99 latency, \(byteSize(size)) messages (log scale)", xLabel: "connections",
                categories: categories, series: series(size: size) { $0.p99Us }, logY: true,
                yFormat: shortMicros)
            body += throughput.render(x: 0, y: y, width: panelW, height: panelH)
            body += latency.render(x: panelW, y: y, width: panelW, height: panelH)
        }
        return SVGFigure(width: panelW * 2, height: top + Double(config.sizes.count) * panelH + 10, body: body)
    }
}
