import Foundation
import Testing
@testable import ImgsyncCore
import ImgsyncTestSupport

/// Hostile layers that used to stop the process (issue 8, item 1): numbers a layer chooses reach no
/// unchecked arithmetic, conversion, capacity or slice. Each is an error of the layer, naming it and
/// the entry, and nothing is published.
@Suite struct LayerHardeningTests {
    /// 19 digits, above Int64.max (9223372036854775807).
    static let overflowing = "9999999999999999999"

    static func paxFile(_ records: [PaxRecord], name: String = "f") -> [UInt8] {
        var t = TarBuilder()
        t.pax(records)
        t.file(name, "body")
        return t.build()
    }

    @Test(arguments: ["size", "mtime", "uid", "gid", "atime", "SCHILY.devmajor"])
    func decimalFieldOverflowingInt64(_ key: String) throws {
        let s = try LayerSandbox()
        let layer = Self.paxFile([PaxRecord(key, Self.overflowing)])
        if key == "atime" {
            // Not read by imgsync: ignored, whatever its value.
            try s.apply([layer])
        } else {
            s.expectFailure(.tarFormat, [layer])
        }
    }

    @Test(arguments: ["-9999999999999999999.5", "-9223372036854775808.5", "99999999999999999999.1", "-.5", "1.2.3"])
    func mtimeOutOfRangeOrMalformed(_ value: String) throws {
        let s = try LayerSandbox()
        s.expectFailure(.tarFormat, [Self.paxFile([.mtime(value)])])
    }

    @Test func pax19DigitSizeIsAFormatErrorNamingTheEntry() throws {
        let s = try LayerSandbox()
        do {
            try s.apply([Self.paxFile([PaxRecord("size", Self.overflowing)], name: "victim-entry")])
            Issue.record("applied")
        } catch let e as ImgsyncError {
            #expect(e.code == .tarFormat && e.layer == "L1" && e.entry == "victim-entry", "\(e)")
        }
    }

    /// After a first record, so that the record's offset plus its length overflows.
    @Test(arguments: ["9999999999999999999", "9223372036854775807", "9223372036854775806"])
    func paxRecordLengthBeyondTheHeader(_ length: String) throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.paxRaw(Array("6 a=b\n\(length) path=x\n".utf8))
        t.file("f", "f")
        s.expectFailure(.tarFormat, [t.build()])
    }

    @Test func sparseRealSizeOverflowingInt64() throws {
        let s = try LayerSandbox()
        var e = TE("GNUSparseFile.0/s", typeflag: TarTypeflag.regular, body: Array("1\n0\n4\n".utf8) + [UInt8](repeating: 0, count: 506) + Array("data".utf8))
        e.paxRecords = [PaxRecord("GNU.sparse.major", "1"), PaxRecord("GNU.sparse.minor", "0"),
                        PaxRecord("GNU.sparse.name", "s"), PaxRecord("GNU.sparse.realsize", Self.overflowing)]
        var t = TarBuilder(); t.entry(e)
        s.expectFailure(.tarFormat, [t.build()])
    }

    /// 768614336404564651 regions × 24 bytes overflows Int64; the map is a limit error, read no further.
    @Test(arguments: ["768614336404564651", "999999999999999999", "9223372036854775807"])
    func sparse1_0RegionCountTimesEntrySizeOverflowing(_ count: String) throws {
        let s = try LayerSandbox()
        var e = TE("GNUSparseFile.0/s", typeflag: TarTypeflag.regular, body: Array("\(count)\n0\n4\n".utf8))
        e.paxRecords = [PaxRecord("GNU.sparse.major", "1"), PaxRecord("GNU.sparse.minor", "0"),
                        PaxRecord("GNU.sparse.name", "s"), PaxRecord("GNU.sparse.realsize", "4")]
        var t = TarBuilder(); t.entry(e)
        s.expectFailure(.limit, [t.build()])
    }

    /// Old GNU sparse with a negative base-256 real size and no regions: once a negative array capacity.
    @Test(arguments: [Int64(-1), -5, Int64.min])
    func oldGNUSparseNegativeRealSize(_ realSize: Int64) throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.sparseFile("neg", realSize: realSize, regions: [], format: .oldGNU)
        s.expectFailure(.tarFormat, [t.build()])
    }

    @Test func numericParsingAtTheEdgesOfInt64() {
        func decimal(_ s: String) -> Int64? { TarNumeric.parseDecimal(Array(s.utf8)[...]) }
        func time(_ s: String) -> (Int64, UInt32)? { TarNumeric.parseTime(Array(s.utf8)[...]) }
        #expect(decimal("9223372036854775807") == Int64.max)
        #expect(decimal("9223372036854775808") == nil)
        #expect(decimal(Self.overflowing) == nil)
        #expect(decimal("000000000000000000000042") == 42)
        #expect(decimal("") == nil && decimal("-1") == nil && decimal("1 ") == nil)
        #expect(time("9223372036854775807.999999999")! == (Int64.max, 999_999_999))
        #expect(time("-9223372036854775808")! == (Int64.min, 0))
        #expect(time("-9223372036854775807.25")! == (Int64.min, 750_000_000))
        #expect(time("-9223372036854775808.5") == nil)
        #expect(time("-1.5")! == (-2, 500_000_000))
        #expect(time("-0.000000001")! == (-1, 999_999_999))
        #expect(time("1.0000000019")! == (1, 1))  // digits past the ninth are dropped
    }
}
