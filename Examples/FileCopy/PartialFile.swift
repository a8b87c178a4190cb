#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// Removes the half-written copy if the process is interrupted (SIGINT,
/// SIGTERM, SIGHUP): the signal handler unlinks it and exits.
enum PartialFile {
    /// The temporary file's path as a C string, or nil. Set and cleared on
    /// one thread; read by the signal handler (a pointer-sized load).
    nonisolated(unsafe) private static var path: UnsafeMutablePointer<CChar>?

    static func installHandlers() {
        for signal in [SIGINT, SIGTERM, SIGHUP] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                if let path = PartialFile.path { unlink(path) }
                _exit(128 + number)
            }
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, nil)
        }
    }

    static func remember(_ file: FilePath) {
        let copy = file.withPlatformString { strdup($0) }
        let old = path
        path = copy
        free(old)
    }

    static func forget() {
        let old = path
        path = nil
        free(old)
    }
}
