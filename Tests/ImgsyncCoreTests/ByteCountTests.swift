import Testing
@testable import ImgsyncCore

/// One formatter for every size imgsync prints (sync summary, logs, stats, gc, verify, list).
@Suite struct ByteCountTests {
    @Test(arguments: [(Int64, String)]([
        (Int64(0), "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"),
        (1_048_575, "1.0 MiB"), (1_048_524, "1023.9 KiB"), (1_048_576, "1.0 MiB"), (415_646_266, "396.4 MiB"),
        (5 * 1_073_741_824, "5.0 GiB"), (3 * 1_099_511_627_776, "3.0 TiB"), (-2048, "-2.0 KiB"),
    ]))
    func binaryUnitsWithOneDecimal(_ n: Int64, _ text: String) {
        #expect(ByteCount.format(n) == text)
    }
}
