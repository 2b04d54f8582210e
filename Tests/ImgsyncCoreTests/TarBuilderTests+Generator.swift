import Foundation
import ImgsyncCore
import Testing
import ImgsyncTestSupport

/// `LayerGenerator`: determinism, agreement with libarchive, duplicates, streaming to a file.
extension TarBuilderTests {
    static func generator(seed: UInt64 = 42) -> LayerGenerator {
        var g = LayerGenerator(seed: seed, fileCount: 400, directoryCount: 25)
        g.maxFileSize = 1 << 20
        g.symlinkFraction = 0.1
        g.hardlinkFraction = 0.05
        return g
    }

    @Test func generatorIsDeterministic() {
        let a = Self.generator().generate()
        let b = Self.generator().generate()
        let other = Self.generator(seed: 43).generate()
        #expect(a.bytes == b.bytes && a.summary == b.summary)
        #expect(a.bytes != other.bytes)
        #expect(a.summary.diffID != other.summary.diffID)
    }

    @Test func libarchiveListsWhatTheSummaryAnnounces() throws {
        let (bytes, summary) = Self.generator().generate()
        let entries = try LibarchiveListing.entries(bytes)
        func count(_ kind: LibarchiveListing.Kind) -> Int { entries.filter { $0.kind == kind }.count }
        #expect(summary.fileCount == 400 && summary.directoryCount == 25)
        #expect(count(.regular) == summary.fileCount)
        #expect(count(.directory) == summary.directoryCount)
        #expect(count(.symlink) == summary.symlinkCount && summary.symlinkCount > 10)
        #expect(count(.hardlink) == summary.hardlinkCount && summary.hardlinkCount > 5)
        #expect(entries.count == summary.entryCount)
        #expect(entries.filter { $0.kind == .regular }.map { Int64($0.data.count) }.reduce(0, +) == summary.totalBodyBytes)
        #expect(summary.tarByteCount == Int64(bytes.count))
        #expect(summary.diffID == SHA256Hasher.hash(bytes))

        // every hardlink points at a regular file written before it; every parent dir has an entry
        var seen = Set<[UInt8]>()
        let dirs = Set(entries.filter { $0.kind == .directory }.map(\.name))
        for e in entries {
            if e.kind == .hardlink { #expect(seen.contains(e.link ?? [])) }
            if e.kind == .regular { seen.insert(e.name) }
            if let slash = e.name.dropLast().lastIndex(of: 0x2F) { #expect(dirs.contains(Array(e.name[...slash]))) }
        }
    }

    @Test func everyLinkTargetIsWrittenBeforeTheLink() throws {
        var g = LayerGenerator(seed: 11, fileCount: 300, directoryCount: 12)
        g.sizes = .constant(0)
        g.hardlinkFraction = 1
        g.symlinkFraction = 1
        let (bytes, summary) = g.generate()
        #expect(summary.hardlinkCount == 300 && summary.symlinkCount == 300)
        var regular = Set<[UInt8]>()
        for e in try LibarchiveListing.entries(bytes) {
            switch e.kind {
            case .regular: regular.insert(e.name)
            case .hardlink: #expect(regular.contains(e.link ?? []), "\(e.name.escapedForDisplay)")
            case .symlink:
                let link = e.link ?? []
                let dir = Array(e.name[...(e.name.lastIndex(of: 0x2F) ?? 0)])
                #expect(regular.contains(link.first == 0x2F ? Array(link.dropFirst()) : dir + link))
            default: break
            }
        }
    }

    @Test func duplicateBodiesRepeatEarlierFiles() throws {
        var g = LayerGenerator(seed: 9, fileCount: 300, directoryCount: 10)
        g.sizes = .uniform(1...4096)
        g.duplicateFraction = 0.4
        let (bytes, summary) = g.generate()
        #expect(summary.duplicateBodyCount > 60 && summary.duplicateBodyCount < 180)
        let bodies = try LibarchiveListing.entries(bytes).filter { $0.kind == .regular }.map(\.data)
        #expect(Set(bodies).count == summary.fileCount - summary.duplicateBodyCount)

        g.duplicateFraction = 0
        let unique = try LibarchiveListing.entries(g.generate().bytes).filter { $0.kind == .regular }.map(\.data)
        #expect(Set(unique).count == 300)
    }

    @Test func streamingToAFileMatchesTheInMemoryLayer() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tarbuilder-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var g = Self.generator(seed: 5)
        g.maxFileSize = 4 << 20
        let path = dir.appendingPathComponent("layer.tar").path
        let summary = try g.write(toPath: path)
        let (bytes, expected) = g.generate()
        #expect(summary == expected)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(bytes))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["layer.tar"])

        #expect(throws: ImgsyncError.self) { try g.write(toPath: dir.appendingPathComponent("missing/layer.tar").path) }
    }

    @Test func usrLikeSizesAreMostlySmallWithALongTail() throws {
        var g = LayerGenerator(seed: 1, fileCount: 2000, directoryCount: 50)
        g.content = .zeros
        g.maxFileSize = 2 << 20
        g.symlinkFraction = 0
        g.hardlinkFraction = 0
        let (bytes, summary) = g.generate()
        let listing = LibarchiveListing.read(bytes, readData: false)
        #expect(listing.error == nil)
        let sizes = listing.entries.filter { $0.kind == .regular }.map(\.size).sorted()
        #expect(sizes.count == 2000 && sizes.reduce(0, +) == summary.totalBodyBytes)
        let median = sizes[sizes.count / 2]
        #expect(median >= 512 && median <= 8192)
        let empty = sizes.filter { $0 == 0 }.count
        #expect(empty > 20 && empty < 120)
        #expect((sizes.last ?? 0) > 256 << 10 && (sizes.last ?? 0) <= 2 << 20)
        #expect(summary.totalBodyBytes / 2000 > 8 << 10)  // the tail dominates the mean
    }

    @Test func bodyContentSetsCompressibility() {
        func ratio(_ content: BodyContent) -> Double {
            var g = LayerGenerator(seed: 3, fileCount: 4, directoryCount: 1)
            g.sizes = .constant(256 << 10)
            g.content = content
            let tar = g.generate().bytes
            return Double(tar.count) / Double(LayerCompressors.gzip(tar).count)
        }
        #expect(ratio(.random) < 1.05)
        #expect(ratio(.text) > 3)
        let mixed = ratio(.mixed)
        #expect(mixed > 1.5 && mixed < 3)
        #expect(ratio(.zeros) > 100)
    }
}
