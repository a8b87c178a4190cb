#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A job a `ProcessPool` worker can run: what `runWorkerIfRequested(serving:)`
/// takes. `ProcessPool.Job` is the one implementation users need.
public protocol ProcessPoolJob: Sendable {
    /// The name the parent and the worker know the job by.
    var name: String { get }
    /// Runs the job on an encoded input, returning the encoded output (the
    /// worker calls this; throws what the job throws).
    func run(encodedInput: [UInt8]) throws -> [UInt8]
}

extension ProcessPool {
    /// A function that runs in a worker process, registered by name, with
    /// `Codable` input and output (sent as JSON over the worker's socket).
    ///
    /// Declare it once where both the parent and the worker see it; the
    /// worker serves it (`runWorkerIfRequested(serving:)`), the parent runs
    /// it (`pool.run(job, input)`):
    ///
    /// ```swift
    /// let square = ProcessPool.Job<Int, Int>(name: "square") { $0 * $0 }
    /// ```
    ///
    /// The body runs synchronously in the worker, one job at a time; an error
    /// it throws reaches the caller as `ProcessPoolError.remote` with the
    /// error's description.
    public struct Job<Input: Codable & Sendable, Output: Codable & Sendable>: ProcessPoolJob {
        /// The name the parent and the worker know the job by.
        public let name: String
        let body: @Sendable (Input) throws -> Output

        /// A job called `name` running `body`.
        public init(name: String, _ body: @escaping @Sendable (Input) throws -> Output) {
            self.name = name
            self.body = body
        }

        /// Decodes the input, runs the body, encodes the output.
        public func run(encodedInput: [UInt8]) throws -> [UInt8] {
            let input = try JSONDecoder().decode(Input.self, from: Data(encodedInput))
            return Array(try JSONEncoder().encode(try body(input)))
        }

        func encode(_ input: Input) throws(ProcessPoolError) -> [UInt8] {
            do {
                return Array(try JSONEncoder().encode(input))
            } catch {
                throw .coding(job: name, message: "cannot encode the input: \(error)")
            }
        }

        func decode(_ output: [UInt8]) throws(ProcessPoolError) -> Output {
            do {
                return try JSONDecoder().decode(Output.self, from: Data(output))
            } catch {
                throw .coding(job: name, message: "cannot decode the output: \(error)")
            }
        }
    }
}
