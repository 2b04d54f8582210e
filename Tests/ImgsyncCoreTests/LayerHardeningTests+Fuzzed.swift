import Foundation
import Testing
@testable import ImgsyncCore
import ImgsyncTestSupport

/// Faults of a layer that reached the operator as I/O errors: the first found by the `apply` fuzz
/// target (docs/architecture.md, "Fuzzing"), the second by checking that class by hand.
extension LayerHardeningTests {
    /// A symlink entry with an empty link name: symlinkat fails with ENOENT, which surfaced as an I/O
    /// error (a fault of the machine) instead of a fault of the layer.
    @Test func symlinkWithAnEmptyTargetIsATarFormatError() throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.file("a", "a")
        t.symlink("l", target: "")
        s.expectFailure(.tarFormat, [t.build()])
    }

    /// Found while checking which layer faults the `apply` target would report as I/O errors: Linux
    /// stores symlink targets of at most 4095 bytes.
    @Test func symlinkTargetBeyondPathMaxIsNameTooLong() throws {
        let s = try LayerSandbox()
        var t = TarBuilder()
        t.symlink("long", target: String(repeating: "t/", count: 2048))
        s.expectFailure(.nameTooLong, [t.build()])
        var ok = TarBuilder()
        ok.symlink("fits", target: String(repeating: "t", count: 4095))
        let r = try s.apply([ok.build()], name: "test/fits:1")
        #expect(r.entry("fits")?.linkTarget.count == 4095)
    }
}
