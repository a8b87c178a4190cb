#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// What the figures were measured on: kept beside them in the JSON report.
struct MachineDescription: Codable, Sendable {
    var uname: String
    var nproc: Int
    var cpuModel: String
    var memoryMib: Int
    var date: String
    var hostname: String

    static func current() -> MachineDescription {
        var u = utsname()
        readUname(&u)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
        }
        let unameText = [field(u.sysname), field(u.nodename), field(u.release), field(u.version),
                         field(u.machine)].joined(separator: " ")
        let cpuinfo = readTextFile("/proc/cpuinfo") ?? ""
        let model = cpuinfo.split(separator: "\n")
            .first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let meminfo = readTextFile("/proc/meminfo") ?? ""
        let memKB = meminfo.split(separator: "\n")
            .first { $0.hasPrefix("MemTotal:") }
            .flatMap { $0.split(separator: " ").dropFirst().first }
            .flatMap { Int($0) } ?? 0
        let formatter = ISO8601DateFormatter()
        return MachineDescription(
            uname: unameText,
            nproc: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))),
            cpuModel: model,
            memoryMib: memKB / 1024,
            date: formatter.string(from: Date()),
            hostname: field(u.nodename)
        )
    }

    var summary: String {
        "\(cpuModel), \(nproc) CPUs, \(memoryMib / 1024) GiB; \(date)"
    }
}

private func readUname(_ u: inout utsname) {
    _ = uname(&u)
}
