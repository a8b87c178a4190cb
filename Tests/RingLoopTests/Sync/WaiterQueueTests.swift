import Foundation
import Testing
@testable import RingLoop

@Suite("WaiterQueue")
struct WaiterQueueTests {
    typealias Node = Waiter<Void, Int>

    final class Holder {
        var queue = WaiterQueue<Node>(tag: 1)
    }

    @Test func appendsInOrderAndRemovesAnyNodeInConstantTime() {
        let holder = Holder()
        let nodes = (0..<5).map { Node($0) }
        for node in nodes { holder.queue.append(node) }
        var count = holder.queue.count
        #expect(count == 5)
        holder.queue.remove(nodes[2])                    // middle
        holder.queue.remove(nodes[0])                    // head
        holder.queue.remove(nodes[4])                    // tail
        let holdsRemoved = holder.queue.contains(nodes[2])
        let holdsKept = holder.queue.contains(nodes[3])
        count = holder.queue.count
        #expect(!holdsRemoved && holdsKept && count == 2)
        let drained = [holder.queue.popFirst(), holder.queue.popFirst(), holder.queue.popFirst()].map { $0?.payload }
        #expect(drained == [1, 3, nil])
        let empty = holder.queue.isEmpty
        #expect(empty)
        holder.queue.append(nodes[0])                    // reusable after removal
        let first = holder.queue.first
        #expect(first === nodes[0])
    }

    @Test func droppingAPrimitiveFailsItsFutureWaitersWithPromiseDropped() async throws {
        try await withLoop { loop in
            var futures: [Future<Void>] = []
            do {
                let event = AsyncEvent()
                // Many, so a recursive release of the chain would overflow the stack.
                for _ in 0..<200_000 { futures.append(event.wait(on: loop)) }
                #expect(event.waiterCount == 200_000)
            }
            await #expect(throws: RingLoopError.promiseDropped) { try await futures[0].get() }
            await #expect(throws: RingLoopError.promiseDropped) { try await futures[199_999].get() }
        }
    }
}
