import Foundation

/// A finished piece of SVG with its size, to be stacked with others into one file.
struct SVGFigure {
    var width: Double
    var height: Double
    var body: String

    /// Stacks figures vertically into one standalone SVG document.
    static func document(_ figures: [SVGFigure]) -> String {
        let width = figures.map(\.width).max() ?? 0
        var y = 0.0
        var parts: [String] = []
        for f in figures {
            parts.append("<g transform=\"translate(0,\(num(y)))\">\n\(f.body)</g>")
            y += f.height
        }
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(num(width))" height="\(num(y))" \
            viewBox="0 0 \(num(width)) \(num(y))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
            <rect width="100%" height="100%" fill="white"/>
            \(parts.joined(separator: "\n"))
            </svg>

            """
    }
}

/// One line of a chart: a value per x category (nil = no point there).
struct ChartSeries {
    var name: String
    var color: String
    var values: [Double?]
}

/// A line chart over categorical x positions, linear or log10 y.
struct LineChart {
    var title: String
    var xLabel: String
    var categories: [String]
    var series: [ChartSeries]
    var logY: Bool
    var yFormat: (Double) -> String

    /// Renders into the box (x, y, width, height).
    func render(x: Double, y: Double, width: Double, height: Double) -> String {
        let left = x + 62, right = x + width - 14, top = y + 28, bottom = y + height - 42
        var out = ""
        out += text(x + width / 2, y + 16, title, size: 13, anchor: "middle", weight: "bold")
        out += "<rect x=\"\(num(left))\" y=\"\(num(top))\" width=\"\(num(right - left))\" "
            + "height=\"\(num(bottom - top))\" fill=\"#fafafa\" stroke=\"#999\"/>\n"

        let values = series.flatMap { $0.values.compactMap { $0 } }.filter { $0.isFinite && (!logY || $0 > 0) }
        guard !values.isEmpty else {
            return out + text((left + right) / 2, (top + bottom) / 2, "no data", size: 12, anchor: "middle")
        }
        // y scale and ticks
        let ticks: [Double]
        let yOf: (Double) -> Double
        if logY {
            let lo = floor(log10(values.min()!)), hi = max(ceil(log10(values.max()!)), lo + 1)
            let decades = stride(from: lo, through: hi, by: 1).map { pow(10, $0) }
            // Few decades leave the axis bare: add 2x and 5x ticks then.
            ticks = hi - lo > 2 ? decades : decades.flatMap { d in [d, 2 * d, 5 * d] }.filter { $0 <= pow(10, hi) }
            yOf = { bottom - (log10($0) - lo) / (hi - lo) * (bottom - top) }
        } else {
            let step = niceStep(values.max()! / 5)
            let hi = max(step, ceil(values.max()! * 1.05 / step) * step)
            ticks = stride(from: 0, through: hi + step / 2, by: step).map { $0 }
            yOf = { bottom - $0 / hi * (bottom - top) }
        }
        for t in ticks {
            let ty = yOf(t)
            out += "<line x1=\"\(num(left))\" y1=\"\(num(ty))\" x2=\"\(num(right))\" y2=\"\(num(ty))\" "
                + "stroke=\"#e0e0e0\"/>\n"
            out += text(left - 6, ty + 4, yFormat(t), size: 10, anchor: "end")
        }
        // x positions, evenly spaced categories
        let n = categories.count
        let xOf: (Int) -> Double = { i in
            n == 1 ? (left + right) / 2 : left + 24 + Double(i) / Double(n - 1) * (right - left - 48)
        }
        for (i, c) in categories.enumerated() {
            out += text(xOf(i), bottom + 15, c, size: 10, anchor: "middle")
        }
        out += text((left + right) / 2, bottom + 32, xLabel, size: 11, anchor: "middle")
        // lines and points
        for s in series {
            var points: [(Double, Double)] = []
            for (i, v) in s.values.enumerated() {
                guard let v, v.isFinite, !logY || v > 0 else { continue }
                points.append((xOf(i), yOf(v)))
            }
            if points.count > 1 {
                let path = points.map { "\(num($0.0)),\(num($0.1))" }.joined(separator: " ")
                out += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\"/>\n"
            }
            for p in points {
                out += "<circle cx=\"\(num(p.0))\" cy=\"\(num(p.1))\" r=\"3.5\" fill=\"\(s.color)\"/>\n"
            }
        }
        return out
    }
}

/// A legend row: a colour swatch and a name per series.
func legend(x: Double, y: Double, _ entries: [(name: String, color: String)]) -> String {
    var out = ""
    var cx = x
    for e in entries {
        out += "<rect x=\"\(num(cx))\" y=\"\(num(y - 9))\" width=\"18\" height=\"4\" fill=\"\(e.color)\"/>\n"
        out += text(cx + 24, y - 3, e.name, size: 12, anchor: "start")
        cx += 40 + Double(e.name.count) * 7.5
    }
    return out
}

func text(_ x: Double, _ y: Double, _ s: String, size: Int, anchor: String, weight: String = "normal")
    -> String
{
    "<text x=\"\(num(x))\" y=\"\(num(y))\" font-size=\"\(size)\" text-anchor=\"\(anchor)\" "
        + "font-weight=\"\(weight)\" fill=\"#222\">\(xmlEscape(s))</text>\n"
}

func xmlEscape(_ s: String) -> String {
    var out = ""
    for ch in s {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        default: out.append(ch)
        }
    }
    return out
}

/// Coordinates with at most one decimal keep the file small and diffable.
func num(_ v: Double) -> String {
    let r = (v * 10).rounded() / 10
    return r == r.rounded() ? String(Int(r)) : String(r)
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
func niceStep(_ raw: Double) -> Double {
    guard raw > 0 else { return 1 }
    let p = pow(10, floor(log10(raw)))
    for m in [1.0, 2, 5, 10] where m * p >= raw { return m * p }
    return 10 * p
}

/// 1500 -> "1.5k", 2000000 -> "2M".
func shortCount(_ v: Double) -> String {
    func trim(_ x: Double) -> String {
        let s = fixed(x, x < 10 ? 1 : 0)
        return s.hasSuffix(".0") ? String(s.dropLast(2)) : s
    }
    if v >= 1e6 { return trim(v / 1e6) + "M" }
    if v >= 1e3 { return trim(v / 1e3) + "k" }
    return trim(v)
}

/// Microseconds as "10 µs", "1 ms", "1 s".
func shortMicros(_ us: Double) -> String {
    if us >= 1e6 { return shortCount(us / 1e6) + " s" }
    if us >= 1e3 { return shortCount(us / 1e3) + " ms" }
    return shortCount(us) + " µs"
}
