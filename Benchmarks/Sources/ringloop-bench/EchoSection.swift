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

/// One server at one point (connections × message size).
struct EchoRun: Codable {
    var server: String
    var connections: Int
    var size: Int
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

    var ok: Bool { status == "ok" }

    init(server: String, connections: Int, size: Int) {
        self.server = server
        self.connections = connections
        self.size = size
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
                let run = runOne(server, connections: point.0, size: point.1)
                if run.ok {
                    log("    \(grouped(run.msgsPerSec)) msgs/s, p99 \(sig3(run.p99Us)) µs")
                } else {
                    log("    \(run.status)")
                }
                report.runs.append(run)
            }
        }
        report.computeRatios()
        return report
    }

    private func runOne(_ server: ServerSpec, connections: Int, size: Int) -> EchoRun {
        var run = EchoRun(server: server.name, connections: connections, size: size)
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
        if let rate = config.rate { args += ["--rate", String(rate)] }
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

    init(config: EchoConfig) {
        self.config = config
    }

    var failures: [String] {
        runs.filter { !$0.ok }.map {
            "echo \($0.server) \($0.connections) conns \(byteSize($0.size)): \($0.status)"
        }
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
        return header + "\n" + t.render()
    }

    func chart(machine: MachineDescription) -> SVGFigure? {
        let palette = ["c": "#1f77b4", "blocking": "#ff7f0e", "nio": "#2ca02c", "ringloop": "#d62728"]
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
