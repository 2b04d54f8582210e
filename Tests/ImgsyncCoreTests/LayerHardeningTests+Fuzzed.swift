import Foundation
import Testing
@testable import ImgsyncCore
import ImgsyncTestSupport

/// Layers the `apply` fuzz target found (docs/architecture.md, "Fuzzing"), rebuilt with TarBuilder.
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
}
