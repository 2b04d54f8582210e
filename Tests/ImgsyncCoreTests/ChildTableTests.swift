import ImgsyncBase
import ImgsyncTestSupport
import Testing
@testable import ImgsyncCore

/// The model's compact directories (`ChildTable`) and names (`NameArena`) against a dictionary:
/// random inserts, replacements and removals, with names short enough to share probe runs, so
/// the backward-shift deletion is exercised in every position of a run.
@Suite struct ChildTableTests {
    private static func node(_ name: PathBytes, _ arena: NameArena) -> TreeNode {
        TreeNode(nameStart: arena.store(name), nameCount: UInt8(name.count), parent: nil, inode: Inode(type: .regular, mode: 0o644))
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func randomChangesMatchADictionary(seed: UInt64) {
        var rng = ImgsyncTestSupport.SplitMix64(seed: seed)
        let arena = NameArena()
        let dir = TreeNode(nameStart: nil, nameCount: 0, parent: nil, inode: Inode(type: .directory, mode: 0o755))
        var model: [PathBytes: TreeNode] = [:]
        for step in 0..<20_000 {
            // 300 possible names of 1-3 bytes: many collisions, tables growing to 512 slots.
            var name: PathBytes = []
            for _ in 0...rng.next(below: 3) { name.append(UInt8(0x61 + rng.next(below: 7))) }
            if rng.next(below: 3) == 0, let victim = model[name] {
                dir.remove(child: victim)
                arena.release(victim)
                model[name] = nil
                #expect(victim.nameCount == 0, "a released node keeps no name")
            } else {
                let n = Self.node(name, arena)
                dir.insert(child: n)
                if let old = model[name] { arena.release(old) }
                model[name] = n
            }
            if step % 997 == 0 || step == 19_999 {
                #expect(dir.children.count == model.count, "step \(step)")
                for (k, v) in model {
                    #expect(dir.child(k) === v, "\(String(decoding: k, as: UTF8.self)) at step \(step)")
                    #expect(v.name == k)
                }
            }
        }
        #expect(dir.child(Array("zzzz".utf8)) == nil)
    }

    @Test func removingANodeThatWasReplacedLeavesTheNewOne() {
        let arena = NameArena()
        let dir = TreeNode(nameStart: nil, nameCount: 0, parent: nil, inode: Inode(type: .directory, mode: 0o755))
        let first = Self.node(Array("bin".utf8), arena)
        let second = Self.node(Array("bin".utf8), arena)
        dir.insert(child: first)
        dir.insert(child: second)
        dir.remove(child: first)
        #expect(dir.child(Array("bin".utf8)) === second)
        #expect(dir.children.count == 1)
    }

    @Test func aReleasedNameIsReusedForOneOfTheSameLength() {
        let arena = NameArena()
        let a = Self.node(Array("abcdef".utf8), arena)
        let start = a.nameStart
        arena.release(a)
        let b = Self.node(Array("uvwxyz".utf8), arena)
        #expect(b.nameStart == start, "the freed bytes are taken again")
        #expect(b.name == Array("uvwxyz".utf8))
        let c = Self.node(Array("abc".utf8), arena)
        #expect(c.nameStart != start)
    }

    @Test func namesSortAsByteArraysDo() {
        let arena = NameArena()
        let names: [PathBytes] = [[0x62], [0x61, 0x62], [0x61], [0xFF], [0x61, 0x00], [0x7A, 0x7A, 0x7A], []]
        let nodes = names.map { Self.node($0, arena) }
        let sorted = nodes.sorted { $0.namePrecedes($1) }.map(\.name)
        #expect(sorted == names.sorted { $0.lexicographicallyPrecedes($1) })
    }
}
