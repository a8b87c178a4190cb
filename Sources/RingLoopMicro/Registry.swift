/// Every micro-benchmark case, by area. Each area adds one line here and
/// keeps its cases in its own file.
enum Registry {
    static func all() -> [BenchCase] {
        var cases: [BenchCase] = []
        cases += CoreBench.cases()
        cases += TimerBench.cases()
        cases += HandOffBench.cases()
        cases += PoolBench.cases()
        cases += SyncBench.cases()
        return cases
    }
}
