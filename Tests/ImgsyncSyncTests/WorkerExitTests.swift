#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ImgsyncCore
import Testing
@testable import ImgsyncSync

/// How a build worker's end reads in the summary.
@Suite struct WorkerExitTests {
    func exit(_ status: WorkerExit.Status, _ diagnostics: String, output: String = "") -> WorkerExit {
        WorkerExit(status: status, output: Array(output.utf8), diagnostics: diagnostics)
    }

    @Test func theTrapsMessageIsQuoted() {
        let trap = exit(.signaled(SIGILL), """
            ImgsyncCore/TarNumeric.swift:40: Fatal error: Arithmetic overflow

            *** Signal 4: Backtracing from 0x7f… done ***

            *** Program crashed: Illegal instruction at 0x00007f… ***
            """)
        #expect(trap.firstDiagnostic == "ImgsyncCore/TarNumeric.swift:40: Fatal error: Arithmetic overflow")
        let failure = BuildWorkerFailure(status: trap.status, firstDiagnostic: trap.firstDiagnostic, tree: "the published tree is unchanged")
        #expect(failure.description == "the build worker died of signal SIGILL (a bug in imgsync: please report it): "
            + "ImgsyncCore/TarNumeric.swift:40: Fatal error: Arithmetic overflow; the published tree is unchanged")

        let segv = exit(.signaled(SIGSEGV), "\n*** Signal 11: Backtracing from 0x1… done ***\n\n*** Program crashed: Bad pointer dereference at 0x0000000000000008 ***\n")
        #expect(segv.firstDiagnostic == "Bad pointer dereference at 0x0000000000000008")
        #expect(exit(.signaled(SIGKILL), "").firstDiagnostic == nil)
        #expect(BuildWorkerFailure(status: .signaled(SIGKILL), firstDiagnostic: nil, tree: "nothing was published").description
            == "the build worker died of signal SIGKILL (out of memory, or killed from outside); nothing was published")
    }

    /// Every limit reaches the worker as the sync set it (the job carries `LayerLimits` itself).
    @Test func aJobCarriesEveryLimit() throws {
        var limits = LayerLimits()
        (limits.maxExtendedHeader, limits.maxSparseMap, limits.maxLayerBytes, limits.maxImageBytes) = (11, 12, 13, 14)
        (limits.maxEntries, limits.maxPathLength, limits.maxPathDepth, limits.maxSymlinkHops) = (15, 16, 17, 18)
        let job = BuildJob(root: "/r", name: "org/w:1", imageID: "sha256:" + String(repeating: "a", count: 64), linkMode: "copy",
                           worldReadable: false, gzipEngine: "zlib", limits: limits, diffIDs: [], reusedLayers: 0, layers: [], sandbox: nil)
        let back = try JSONDecoder().decode(BuildJob.self, from: try JSONEncoder().encode(job)).limits
        #expect([back.maxExtendedHeader, back.maxSparseMap, back.maxEntries, back.maxPathLength, back.maxPathDepth, back.maxSymlinkHops]
                == [11, 12, 15, 16, 17, 18] as [Int])
        #expect(back.maxLayerBytes == 13 && back.maxImageBytes == 14)
    }

    @Test func aReportedErrorReadsAsTheWorkersOwn() throws {
        let original = ImgsyncError(.traversal, "entry name escapes the root", layer: "2/3 sha256:ab", entry: "../x")
        let result = WorkerResult(error: ReportedError(original))
        let line = String(decoding: try JSONEncoder().encode(result), as: UTF8.self)
        let reported = try #require(exit(.exited(1), "", output: "noise\n" + line + "\n").result?.error?.error as? ImgsyncError)
        #expect(reported.description == original.description)
        #expect(reported.code == .traversal && reported.layer == "2/3 sha256:ab")
        // A code this side does not know keeps the worker's text.
        var unknown = ReportedError(original)
        unknown.code = "brand-new"
        #expect("\(unknown.error)" == "layer 2/3 sha256:ab, entry \"../x\": entry name escapes the root [brand-new]")
        // Something that is not an ImgsyncError keeps its text.
        struct Odd: Error, CustomStringConvertible { var description: String { "odd failure" } }
        #expect("\(ReportedError(Odd()).error)" == "odd failure")
        // Every code crosses the boundary as itself.
        #expect(ImgsyncError.Code.all.count > 40)
        for code in ImgsyncError.Code.all {
            let back = ReportedError(ImgsyncError(code, "m")).error as? ImgsyncError
            #expect(back?.code == code, "\(code)")
        }
        // A truncated result (the worker died while writing it) is no result.
        #expect(exit(.signaled(SIGKILL), "", output: String(line.prefix(20))).result == nil)
    }
}
