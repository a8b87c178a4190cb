// Thin entry point: all code lives in other files (closures in main.swift are
// main-actor isolated and would trap on loop threads).
await MicroBench.main(arguments: CommandLine.arguments)
