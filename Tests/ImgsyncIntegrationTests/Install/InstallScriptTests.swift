import Foundation
import Testing

/// `scripts/install` staged into a temporary DESTDIR (`--skip-build`, so no release build): the
/// static-runtime check, the files and units it installs, and `systemd-analyze verify` of the units.
@Suite struct InstallScriptTests {
    static let install = SyncEndToEndTests.scripts + "/install"

    static let systemdAnalyze: String? = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs the script; returns its status and output (stderr first).
    func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        let env = environment.map { "\($0.key)=\($0.value)" }
        do {
            return (0, try await ChildProcess.run(["env"] + env + [Self.install] + arguments))
        } catch let failed as CommandFailed {
            return (failed.status, failed.output)
        }
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    func withStage(_ body: (String) async throws -> Void) async throws {
        let dir = NSTemporaryDirectory() + "imgsync-install-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await body(dir)
    }

    @Test func refusesABinaryThatLinksTheSwiftRuntimeDynamically() async throws {
        let imgsync = SyncCrashTests.imgsync
        try #require(FileManager.default.isExecutableFile(atPath: imgsync), "imgsync is not built at \(imgsync)")
        try await withStage { stage in
            // The debug build links libswiftCore.so and Foundation dynamically.
            let r = try await run(["--destdir", stage, "--skip-build", imgsync])
            #expect(r.status == 1, "\(r.output)")
            #expect(r.output.contains("links the Swift runtime dynamically") && r.output.contains("libswift"), "\(r.output)")
            #expect(!exists(stage + "/usr/local/bin/imgsync"), "nothing installed")
            #expect(try FileManager.default.contentsOfDirectory(atPath: stage).isEmpty)
        }
    }

    @Test func stagesTheBinaryUnitsAndDirectories() async throws {
        try await withStage { stage in
            // /bin/true stands in for a release build: an executable without the Swift runtime.
            let r = try await run(["--destdir", stage, "--prefix", "/opt/imgsync", "--skip-build", "/bin/true"])
            #expect(r.status == 0, "\(r.output)")
            #expect(FileManager.default.isExecutableFile(atPath: stage + "/opt/imgsync/bin/imgsync"))
            let units = stage + "/etc/systemd/system"
            let service = try String(contentsOfFile: units + "/imgsync.service", encoding: .utf8)
            #expect(exists(units + "/imgsync.timer") && exists(units + "/imgsync-failure@.service"))
            #expect(service.contains("ExecStart=/opt/imgsync/bin/imgsync sync"), "the unit runs the binary under --prefix")
            #expect(!service.contains("/usr/local/"))
            #expect(service.contains("\nSuccessExitStatus=1\n"))
            #expect(service.contains("\nOnFailure=imgsync-failure@%n.service\n"))
            let serve = try String(contentsOfFile: units + "/imgsync-serve.service", encoding: .utf8)
            #expect(serve.contains("ExecStart=/opt/imgsync/bin/imgsync serve"), "the serve unit runs the binary under --prefix")
            #expect(!serve.contains("/usr/local/"))
            #expect(service.contains("\nUser=imgsync\n"))
            // Every directory the unit writes to exists in the stage.
            let written = ["--json", "--metrics-file", "--events"].compactMap { option -> String? in
                guard let range = service.range(of: option + " ") else { return nil }
                return String(service[range.upperBound...].prefix { !$0.isWhitespace })
            }
            #expect(written.count == 3, "\(service)")
            for path in written {
                #expect(exists(stage + (path as NSString).deletingLastPathComponent), "\(path)")
            }
            #expect(exists(stage + "/srv/imgsync/repository"))
            #expect(service.contains("IMGSYNC_ROOT=/srv/imgsync/repository"))
            #expect(exists(stage + "/opt/imgsync/share/doc/imgsync/operations.md"))
        }
        // DESTDIR from the environment, default prefix.
        try await withStage { stage in
            let r = try await run(["--skip-build", "/bin/true"], environment: ["DESTDIR": stage])
            #expect(r.status == 0, "\(r.output)")
            #expect(exists(stage + "/usr/local/bin/imgsync"))
            let service = try String(contentsOfFile: stage + "/etc/systemd/system/imgsync.service", encoding: .utf8)
            #expect(service.contains("ExecStart=/usr/local/bin/imgsync sync"))
        }
        let bad = try await run(["--frobnicate"])
        #expect(bad.status == 2 && bad.output.contains("usage:"), "\(bad.output)")
    }

    /// `systemd-analyze verify` with the stage as root: the root gets the host's system units (for
    /// the default dependencies) and /bin/sh (the failure unit's command), as an installed host has.
    @Test(.enabled(if: systemdAnalyze != nil, "systemd-analyze is not installed"))
    func theInstalledUnitsVerify() async throws {
        let analyze = try #require(Self.systemdAnalyze)
        try await withStage { stage in
            let r = try await run(["--destdir", stage, "--skip-build", "/bin/true"])
            #expect(r.status == 0, "\(r.output)")
            try FileManager.default.createDirectory(atPath: stage + "/usr/lib/systemd", withIntermediateDirectories: true)
            try await ChildProcess.run(["cp", "-r", "/usr/lib/systemd/system", stage + "/usr/lib/systemd/"])
            try FileManager.default.createDirectory(atPath: stage + "/bin", withIntermediateDirectories: true)
            let shell = URL(fileURLWithPath: "/bin/sh").resolvingSymlinksInPath().path  // a link to dash on Debian
            try FileManager.default.copyItem(atPath: shell, toPath: stage + "/bin/sh")
            let units = ["imgsync.service", "imgsync.timer", "imgsync-serve.service", "imgsync-failure@.service"].map { stage + "/etc/systemd/system/" + $0 }
            var output = ""
            var status: Int32 = 0
            do {
                // Warnings (an unknown key) go to stderr with status 0: capture them too.
                output = try await ChildProcess.run(["sh", "-c", "\"$0\" verify --root=\"$1\" \"$2\" \"$3\" \"$4\" 2>&1", analyze, stage] + units)
            } catch let failed as CommandFailed {
                (status, output) = (failed.status, failed.output)
            }
            #expect(status == 0, "\(output)")
            #expect(!output.contains("imgsync"), "warnings about the units: \(output)")
        }
    }
}
