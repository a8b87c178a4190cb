import Testing
@testable import RingLoop

@Suite("HeadInlineDeque")
struct HeadInlineDequeTests {
    @Test func keepsFIFOOrderAcrossItsInlineHeadAndHeapRest() {
        var queue = HeadInlineDeque<Int>()
        check(queue.isEmpty && queue.first == nil && queue.popFirst() == nil)
        queue.append(1)
        check(queue.count == 1 && queue.first == 1)
        queue.append(2)
        queue.append(3)
        queue.prepend(0)
        check(Array(queue) == [0, 1, 2, 3])
        queue[0] += 10
        queue[2] += 20
        check(Array(queue) == [10, 1, 22, 3])
        check(queue.remove(at: 2) == 22)
        check(queue.removeFirst() == 10)
        check(Array(queue) == [1, 3] && queue.count == 2)
        check(queue.popFirst() == 1 && queue.popFirst() == 3 && queue.popFirst() == nil)
        check(queue.isEmpty && queue.count == 0)
    }

    @Test func withFirstReadsAndChangesTheHeadInPlaceAndSizeChecksFollowEveryChange() {
        var queue = HeadInlineDeque<[Int]>()
        queue.append([1])
        queue.append([2])
        check(queue.withFirst { $0.count } == 1)
        queue.withFirst { $0.append(10) }
        check(queue.first == [1, 10] && queue.count == 2)
        queue.prepend([0])
        check(queue.count == 3 && queue.first == [0])
        check(queue.removeFirst() == [0] && queue.removeFirst() == [1, 10])
        check(queue.count == 1 && !queue.isEmpty)
        check(queue.popFirst() == [2])
        check(queue.isEmpty && queue.count == 0 && queue.first == nil)
        queue.prepend([5])
        check(queue.count == 1 && queue.first == [5])
    }

    @Test func behavesLikeAnArrayUnderRandomOperations() {
        var generator = SeededGenerator(seed: 0x5EED_D0E5)
        var queue = HeadInlineDeque<Int>()
        var model: [Int] = []
        for step in 0..<5_000 {
            switch Int.random(in: 0..<6, using: &generator) {
            case 0, 1:
                queue.append(step)
                model.append(step)
            case 2:
                queue.prepend(step)
                model.insert(step, at: 0)
            case 3:
                check(queue.popFirst() == (model.isEmpty ? nil : model.removeFirst()))
            case 4 where !model.isEmpty:
                let index = Int.random(in: 0..<model.count, using: &generator)
                check(queue.remove(at: index) == model.remove(at: index))
            case 5 where !model.isEmpty:
                let index = Int.random(in: 0..<model.count, using: &generator)
                queue[index] = -step
                model[index] = -step
            default:
                break
            }
            check(queue.count == model.count && queue.first == model.first)
        }
        check(Array(queue) == model)
    }
}
