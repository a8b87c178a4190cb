/// A plain text table with right-aligned numeric columns.
struct TextTable {
    var headers: [String]
    var leftAligned: Set<Int> = []
    private var rows: [[String]?] = []  // nil = separator

    init(headers: [String], leftAligned: Set<Int> = []) {
        self.headers = headers
        self.leftAligned = leftAligned
    }

    mutating func add(_ row: [String]) { rows.append(row) }
    mutating func separator() { rows.append(nil) }

    func render() -> String {
        var widths = headers.map(\.count)
        for row in rows.compactMap({ $0 }) {
            for (i, cell) in row.enumerated() where i < widths.count {
                widths[i] = max(widths[i], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: max(0, widths[i] - cell.count))
                return leftAligned.contains(i) ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        var out = [line(headers), rule]
        for row in rows {
            if let row { out.append(line(row)) } else { out.append(rule) }
        }
        return out.joined(separator: "\n")
    }
}

/// 1234567 -> "1,234,567".
func grouped(_ value: Double) -> String {
    guard value.isFinite else { return "-" }
    let digits = String(Int(value.rounded()))
    var out = ""
    for (i, ch) in digits.reversed().enumerated() {
        if i > 0 && i % 3 == 0 && ch != "-" { out.append(",") }
        out.append(ch)
    }
    return String(out.reversed())
}

/// Fixed-point text with `places` decimals.
func fixed(_ value: Double?, _ places: Int) -> String {
    guard let value, value.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    let whole = Int(scaled / scale)
    let frac = Int(scaled.truncatingRemainder(dividingBy: scale))
    let sign = value < 0 && scaled > 0 ? "-" : ""
    guard places > 0 else { return sign + String(whole) }
    let fracText = String(frac)
    return sign + String(whole) + "." + String(repeating: "0", count: places - fracText.count) + fracText
}

/// Three significant figures, at least: 0.123, 12.3, 1234.
func sig3(_ value: Double?) -> String {
    guard let value, value.isFinite else { return "-" }
    let a = abs(value)
    if a >= 100 { return fixed(value, 0) }
    if a >= 10 { return fixed(value, 1) }
    if a >= 1 { return fixed(value, 2) }
    return fixed(value, 3)
}

/// 64 -> "64 B", 4096 -> "4 KiB", 65536 -> "64 KiB".
func byteSize(_ bytes: Int) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
    if bytes >= 1024 && bytes % 1024 == 0 { return "\(bytes >> 10) KiB" }
    return "\(bytes) B"
}
