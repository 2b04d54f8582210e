import ImgsyncBase
import ImgsyncTestSupport
import Testing
@testable import ImgsyncCore

/// The model's compact directories (`ChildTable`) and names (`NameArena`) against a dictionary:
/// random inserts, replacements and removals, with names short enough to share probe runs, so
/// the backward-shift deletion is exercised in every position of a run.
@Suite struct ChildTableTests {
    private static func node(_ name: PathBytes, _ model: TreeModel, in dir: TreeNode? = nil) -> TreeNode {
        model.makeNode(name, parent: dir, inode: model.makeInode(type: .regular, mode: 0o644))
    }

    private static func directory(_ model: TreeModel) -> TreeNode {
        model.makeNode([], parent: nil, inode: model.makeInode(type: .directory, mode: 0o755))
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func randomChangesMatchADictionary(seed: UInt64) {
        var rng = ImgsyncTestSupport.SplitMix64(seed: seed)
        let tree = TreeModel()
        let dir = Self.directory(tree)
        var model: [PathBytes: TreeNode] = [:]
        for step in 0..<20_000 {
            // 300 possible names of 1-3 bytes: many collisions, tables growing to 512 slots.
            var name: PathBytes = []
            for _ in 0...rng.next(below: 3) { name.append(UInt8(0x61 + rng.next(below: 7))) }
            if rng.next(below: 3) == 0, let victim = model[name] {
                dir.remove(child: victim)
                victim.inode.links -= 1
                tree.release(victim)
                model[name] = nil
            } else {
                let n = Self.node(name, tree, in: dir)
                dir.insert(child: n)
                if let old = model[name] {
                    old.inode.links -= 1
                    tree.release(old)
                }
                model[name] = n
            }
            if step % 997 == 0 || step == 19_999 {
                #expect(dir.children.count == model.count, "step \(step)")
                for (k, v) in model {
                    #expect(dir.child(k) == v, "\(String(decoding: k, as: UTF8.self)) at step \(step)")
                    #expect(v.name == k)
                }
            }
        }
        #expect(dir.child(Array("zzzz".utf8)) == nil)
    }

    @Test func removingANodeThatWasReplacedLeavesTheNewOne() {
        let model = TreeModel()
        let dir = Self.directory(model)
        let first = Self.node(Array("bin".utf8), model, in: dir)
        let second = Self.node(Array("bin".utf8), model, in: dir)
        dir.insert(child: first)
        dir.insert(child: second)
        dir.remove(child: first)
        #expect(dir.child(Array("bin".utf8)) == second)
        #expect(dir.children.count == 1)
    }

    @Test func aReleasedNameIsReusedForOneOfTheSameLength() {
        let arena = NameArena()
        let a = arena.store(Array("abcdef".utf8))
        arena.release(a.position, count: a.count)
        let b = arena.store(Array("uvwxyz".utf8))
        #expect(b.position == a.position, "the freed bytes are taken again")
        #expect(Array(arena.bytes(b.position, count: b.count)) == Array("uvwxyz".utf8))
        let c = arena.store(Array("abc".utf8))
        #expect(c.position != a.position)
        #expect(Array(arena.bytes(b.position, count: b.count)) == Array("uvwxyz".utf8), "a later name leaves it alone")
    }

    @Test func namesSortAsByteArraysDo() {
        let model = TreeModel()
        let names: [PathBytes] = [[0x62], [0x61, 0x62], [0x61], [0xFF], [0x61, 0x00], [0x7A, 0x7A, 0x7A], []]
        let nodes = names.map { Self.node($0, model) }
        let sorted = nodes.sorted { $0.namePrecedes($1) }.map(\.name)
        let expected = names.sorted { $0.lexicographicallyPrecedes($1) }
        #expect(sorted == expected)
        // A directory's sorted children: prefixes of eight bytes decide most pairs, the full
        // names the rest (shared prefixes, names of eight bytes and more, a NUL byte).
        let dir = Self.directory(model)
        var more = names.filter { !$0.isEmpty }
        more += [Array("abcdefgh".utf8), Array("abcdefghi".utf8), Array("abcdefgg".utf8), Array("abcdefgh\u{1}".utf8),
                 Array("abcdefg".utf8), [0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x00], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]]
        var rng = ImgsyncTestSupport.SplitMix64(seed: 9)
        for _ in 0..<300 {
            var n: PathBytes = []
            for _ in 0..<(1 + rng.next(below: 12)) { n.append(UInt8(0x61 + rng.next(below: 3))) }
            if !more.contains(n) { more.append(n) }
        }
        for n in more { dir.insert(child: Self.node(n, model, in: dir)) }
        #expect(dir.sortedChildren.map(\.name) == more.sorted { $0.lexicographicallyPrecedes($1) })
    }
}
