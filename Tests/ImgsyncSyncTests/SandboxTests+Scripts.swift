import Foundation
import Testing
@testable import ImgsyncSync

/// §5.4 and §5.7: the fixed scripts, run with real shells in an environment holding only what the
/// runtime keeps when it clears it (PWD, HOME, SINGULARITY_APPNAME, SINGULARITY_SHELL; spec §3).
extension SandboxTests {
    @Test("§5.4: 95-apps.sh sets up the app named by SINGULARITY_APPNAME, the variable the runtime passes for --app")
    func appsScriptFollowsSingularityAppname() throws {
        #expect(SandboxScripts.apps95.contains("${SINGULARITY_APPNAME:-}"))
        #expect(!SandboxScripts.apps95.contains("APPTAINER_"))

        // A temporary directory stands in for the container root: the script's /scif/apps is moved into it.
        let root = NSTemporaryDirectory() + "imgsync-scif-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let app = root + "/scif/apps/foo"
        for dir in ["bin", "lib", "scif/env"] {
            try FileManager.default.createDirectory(atPath: app + "/" + dir, withIntermediateDirectories: true)
        }
        try Data("APP_SETTING=from-foo\nexport APP_SETTING\n".utf8)
            .write(to: URL(fileURLWithPath: app + "/scif/env/90-environment.sh"))
        let script = SandboxScripts.apps95.replacingOccurrences(of: "/scif/apps", with: root + "/scif/apps")
        #expect(script != SandboxScripts.apps95)
        let dump = "printf '%s\\n' \"${SCIF_APPROOT:-}\" \"$PATH\" \"${LD_LIBRARY_PATH:-}\" \"${APP_SETTING:-}\"\n"

        for shell in Self.shells {
            let r = try Self.run(shell, script + dump, env: ["SINGULARITY_APPNAME": "foo", "PATH": "/usr/bin:/bin"])
            #expect(r.status == 0, "\(shell): \(r.stderr)")
            let lines = String(decoding: r.stdout, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == 5, "\(shell): \(lines)")
            guard lines.count == 5 else { continue }
            #expect(lines[0] == app, "\(shell)")
            #expect(lines[1] == "\(app)/bin:\(app):\(root)/scif/apps/singularity:/usr/bin:/bin", "\(shell)")
            #expect(lines[2].hasPrefix("\(app)/lib"), "\(shell)")
            #expect(lines[3] == "from-foo", "\(shell)")
        }
        // The name Apptainer never sets inside the container selects nothing.
        let r = try Self.run("/bin/sh", script + dump, env: ["APPTAINER_APPNAME": "foo", "PATH": "/usr/bin:/bin"])
        #expect(r.status == 0 && r.stdout == Array("\n/usr/bin:/bin\n\n\n".utf8), "\(String(decoding: r.stdout, as: UTF8.self))")
    }

    @Test("§5.7: actions/shell execs the shell named by SINGULARITY_SHELL, the variable the runtime passes for --shell")
    func shellActionFollowsSingularityShell() throws {
        let body = try #require(SandboxScripts.actions.first { $0.name == "shell" }?.body)
        #expect(body.contains("\"${SINGULARITY_SHELL}\""))
        #expect(!body.contains("APPTAINER_"))
        // The "shell" prints its arguments; the fallback /bin/bash or /bin/sh would run the command.
        let shell = try ArgDumper()
        let r = try Self.run("/bin/sh", body, ["-c", "echo fallback"], env: ["SINGULARITY_SHELL": shell.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == Self.nulJoined(["-c", "echo fallback"]), "\(String(decoding: r.stdout, as: UTF8.self).debugDescription)")
    }
}
