// Kept to one line: closures written here would be main-actor isolated and
// trap on a loop thread. The demo lives in Demo.swift.
await Demo.run()
