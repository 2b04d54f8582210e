import Foundation
import Testing
@testable import ImgsyncSync

/// §5.6: the runscript, run with real shells in an empty environment. The "command" it execs is
/// a small script that prints each argument it receives NUL-terminated.
extension SandboxTests {
    final class ArgDumper {
        let dir: String
        let path: String
        init() throws {
            dir = NSTemporaryDirectory() + "imgsync-dump-\(UUID().uuidString.prefix(8))"
            path = dir + "/dump"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try Data("#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done\n".utf8).write(to: URL(fileURLWithPath: path))
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        }
        deinit { try? FileManager.default.removeItem(atPath: dir) }
    }

    /// Runs the runscript for ENTRYPOINT/CMD with `args`, in eval mode or with SINGULARITY_NO_EVAL.
    static func runscript(_ entrypoint: [String], _ cmd: [String], _ args: [String], noEval: Bool,
                          shell: String = "/bin/sh", env: [String: String] = [:]) throws -> Run {
        var env = env
        if noEval { env["SINGULARITY_NO_EVAL"] = "1" }
        return try run(shell, OCIRunscript.render(entrypoint: entrypoint, cmd: cmd), args, env: env)
    }

    /// Words with every character the quoting has to survive.
    static let hardWords = ["two words", "it's", "say \"hi\"", "$HOME", "`echo ran`", "back\\slash", "semi;colon",
                            "*", "new\nline", "", "'\"'\"'", "tab\tx", "dash-", "-n"]

    @Test("§5.6: ENTRYPOINT + CMD without arguments, both modes, every word literal")
    func entrypointAndCmd() throws {
        let dump = try ArgDumper()
        let entrypoint = [dump.path] + Self.hardWords
        let cmd = ["cmd one", "$PATH", "c'2"]
        for shell in Self.shells {
            for noEval in [false, true] {
                let r = try Self.runscript(entrypoint, cmd, [], noEval: noEval, shell: shell, env: ["HOME": "/home/x"])
                #expect(r.status == 0, "\(shell) noEval=\(noEval): \(r.stderr)")
                #expect(r.stdout == Self.nulJoined(Self.hardWords + cmd), "\(shell) noEval=\(noEval): \(String(decoding: r.stdout, as: UTF8.self).debugDescription)")
            }
        }
    }

    @Test("§5.6: arguments replace CMD; ENTRYPOINT stays in front")
    func argumentsReplaceCmd() throws {
        let dump = try ArgDumper()
        for shell in Self.shells {
            for noEval in [false, true] {
                let r = try Self.runscript([dump.path, "ep"], ["default cmd"], ["a b", "c"], noEval: noEval, shell: shell)
                #expect(r.stdout == Self.nulJoined(["ep", "a b", "c"]), "\(shell) noEval=\(noEval)")
            }
        }
    }

    @Test("§5.6: eval mode evaluates the arguments, NO_EVAL keeps them literal")
    func evalModeEvaluatesArguments() throws {
        let dump = try ArgDumper()
        let args = ["$FOO", "x*y", "keep space"]
        let evaluated = try Self.runscript([dump.path], [], args, noEval: false, env: ["FOO": "bar"])
        #expect(evaluated.stdout == Self.nulJoined(["bar", "x*y", "keep space"]))
        let literal = try Self.runscript([dump.path], [], args, noEval: true, env: ["FOO": "bar"])
        #expect(literal.stdout == Self.nulJoined(args))
    }

    @Test("§5.6: no ENTRYPOINT: CMD runs, arguments replace it entirely")
    func emptyEntrypoint() throws {
        let dump = try ArgDumper()
        for entrypoint in [[], [""]] {
            for noEval in [false, true] {
                let byCmd = try Self.runscript(entrypoint, [dump.path, "c 1", "c'2"], [], noEval: noEval)
                #expect(byCmd.status == 0 && byCmd.stdout == Self.nulJoined(["c 1", "c'2"]), "\(entrypoint) \(noEval): \(byCmd.stderr)")
                let byArgs = try Self.runscript(entrypoint, ["/bin/false"], [dump.path, "x"], noEval: noEval)
                #expect(byArgs.status == 0 && byArgs.stdout == Self.nulJoined(["x"]), "\(entrypoint) \(noEval): \(byArgs.stderr)")
            }
        }
    }

    @Test("§5.6: ENTRYPOINT only, with and without arguments")
    func entrypointOnly() throws {
        let dump = try ArgDumper()
        for noEval in [false, true] {
            #expect(try Self.runscript([dump.path, "e"], [], [], noEval: noEval).stdout == Self.nulJoined(["e"]))
            #expect(try Self.runscript([dump.path, "e"], [], ["1", "2"], noEval: noEval).stdout == Self.nulJoined(["e", "1", "2"]))
        }
    }

    @Test("§5.6: nothing to run is an error, not a silent success")
    func nothingToRun() throws {
        for noEval in [false, true] {
            let r = try Self.runscript([], [], [], noEval: noEval)
            #expect(r.status == 1)
            #expect(r.stderr.contains("neither ENTRYPOINT nor CMD"))
            #expect(r.stdout.isEmpty)
        }
        let dump = try ArgDumper()
        #expect(try Self.runscript([], [], [dump.path, "ok"], noEval: false).stdout == Self.nulJoined(["ok"]))
    }

    @Test("§5.6: the eval line Apptainer looks for, at column 0, then exec \"$@\"; the assignments quoted as Apptainer writes them")
    func runscriptShape() {
        let s = OCIRunscript.render(entrypoint: ["/bin/tool", "it's"], cmd: ["--flag", "$x"])
        let lines = s.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "#!/bin/sh")
        #expect(lines[1] == "OCI_ENTRYPOINT='\"/bin/tool\" \"it'\"'\"'s\"'")
        #expect(lines[2] == "OCI_CMD='\"--flag\" \"\\$x\"'")
        let evalIndex = lines.firstIndex(of: "eval \"set ${SINGULARITY_OCI_RUN}\"")
        #expect(evalIndex != nil)
        if let evalIndex { #expect(lines[evalIndex + 1] == "exec \"$@\"") }
        #expect(lines.filter { $0.contains("SINGULARITY_OCI_RUN}\"") }.count == 1)
        // NO_EVAL prepends, last word first.
        let prepends = lines.filter { $0.contains("set -- '") }.map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(prepends == ["set -- '$x' \"$@\"", "set -- '--flag' \"$@\"", "set -- 'it'\"'\"'s' \"$@\"", "set -- '/bin/tool' \"$@\""])
    }
}
