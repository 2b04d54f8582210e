import Foundation
import ImgsyncTestSupport
import Testing
@testable import ImgsyncSync
import ImgsyncRegistry
import ImgsyncCore

/// The generated Apptainer metadata, checked by running the scripts with real shells and by
/// parsing what is written. Each test names the item of docs/apptainer-sandbox.md §5 it covers.
/// The end-to-end tests through `ImageBuilder` are in SandboxTests+Tree.swift.
@Suite struct SandboxTests {
    // MARK: helpers

    /// An image config as a registry serves it (JSONSerialization does the JSON escaping).
    static func config(env: [String]? = nil, entrypoint: [String]? = nil, cmd: [String]? = nil,
                       labels: [String: String]? = nil, created: String? = "2024-02-29T12:34:56.789Z") throws -> ImageConfig {
        var runtime: [String: Any] = [:]
        if let env { runtime["Env"] = env }
        if let entrypoint { runtime["Entrypoint"] = entrypoint }
        if let cmd { runtime["Cmd"] = cmd }
        if let labels { runtime["Labels"] = labels }
        var doc: [String: Any] = ["architecture": "amd64", "os": "linux", "config": runtime,
                                  "rootfs": ["type": "layers", "diff_ids": [String]()]]
        if let created { doc["created"] = created }
        let data = try JSONSerialization.data(withJSONObject: doc)
        return try ImageConfig(parsing: Array(data), source: "test config")
    }

    struct Run {
        var status: Int32
        var stdout: [UInt8]
        var stderr: String
    }

    /// Runs `shell script args…` in an empty environment plus `env`.
    static func run(_ shell: String, _ script: String, _ args: [String] = [], env: [String: String] = [:]) throws -> Run {
        let dir = NSTemporaryDirectory() + "imgsync-sandbox-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/script.sh"
        try Data(script.utf8).write(to: URL(fileURLWithPath: path))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["-i"] + env.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } + [shell, path] + args
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.runSerialized()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: Array(stdout), stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// The shells to check scripts with: dash (Debian's /bin/sh) and bash when present.
    static var shells: [String] {
        ["/bin/sh", "/bin/bash"].filter { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// NUL-terminated values, as `printf '%s\0'` prints them.
    static func nulJoined(_ values: [String]) -> [UInt8] {
        values.flatMap { Array($0.utf8) + [0] }
    }

    // MARK: §5.5 10-docker2singularity.sh

    static let trickyEnv = [
        "PLAIN=value",
        "QUOTE=say \"hi\" and \"\"",
        "DOLLAR=$HOME ${PATH} $(echo subst) $1 $",
        "BACKQUOTE=`echo ran` and `",
        "BACKSLASH=a\\b\\\\c\\n\\",
        "NEWLINE=line one\nline two\n\n",
        "EQUALS=a=b==c=",
        "EMPTY=",
        "NOVALUE",
        "SINGLE=it's 'quoted'",
        "BRACES=}{${x}}",
        "MIXED=\\\"$`\\'\"",
        "UNICODE=é – 名前 \u{1F600}",
        "PATH=/opt/my bin:$PATH:/usr/bin",
        "_under_1=ok",
    ]
    static let invalidEnv = ["1BAD=x", "BAD-NAME=y", "=nameless", "BAD NAME=z", "ÉTÉ=w", ""]

    /// What the shell must end up with: the value after the first `=`, or empty without one.
    static func expectedValues(_ env: [String]) -> [(name: String, value: String)] {
        env.map { entry in
            guard let eq = entry.firstIndex(of: "=") else { return (entry, "") }
            return (String(entry[..<eq]), String(entry[entry.index(after: eq)...]))
        }
    }

    @Test("§5.5: every ENV value comes out of the shell byte for byte")
    func envValuesSurviveTheShell() throws {
        let (script, warnings) = DockerEnvScript.render(Self.trickyEnv)
        #expect(warnings.isEmpty, "\(warnings)")
        let expected = Self.expectedValues(Self.trickyEnv)
        // Source the file, then print each variable NUL-terminated.
        let dump = expected.map { "printf '%s\\0' \"$\($0.name)\"" }.joined(separator: "\n")
        for shell in Self.shells {
            let r = try Self.run(shell, script + "\n" + dump + "\n")
            #expect(r.status == 0, "\(shell): \(r.stderr)")
            #expect(r.stderr.isEmpty, "\(shell): \(r.stderr)")
            #expect(r.stdout == Self.nulJoined(expected.map(\.value)), "\(shell): \(String(decoding: r.stdout, as: UTF8.self).debugDescription)")
        }
    }

    @Test("§5.5: the variables are exported to child processes")
    func envValuesAreExported() throws {
        let (script, _) = DockerEnvScript.render(["EXPORTED=a \"b\" $c", "PATH=/usr/bin:/bin"])
        let r = try Self.run("/bin/sh", script + "exec /usr/bin/env\n")
        let lines = String(decoding: r.stdout, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.contains("EXPORTED=a \"b\" $c"))
        #expect(lines.contains("PATH=/usr/bin:/bin"))
    }

    @Test("§5.5: the 1.5.0 line forms, first line #!/bin/sh, config order")
    func envLineForms() {
        let (script, _) = DockerEnvScript.render(["A=x$y", "PATH=/p\"q", "B", "C=", "D=\\"])
        #expect(script == """
            #!/bin/sh
            export A="${A:-"x\\$y"}"
            export PATH="/p\\"q"
            export B="${B:-}"
            export C="${C:-""}"
            export D="${D:-"\\\\"}"

            """)
        // Not the ≤ 1.4 %q form, which doubled every escape.
        #expect(!script.contains("\\\\$"))
    }

    @Test("§5.5: names that are not shell identifiers are skipped and reported")
    func invalidNamesAreSkipped() throws {
        let (script, warnings) = DockerEnvScript.render(Self.invalidEnv + ["GOOD=yes", "NUL=a\u{0}b"])
        #expect(warnings.count == Self.invalidEnv.count + 1)
        for bad in ["\"1BAD\"", "\"BAD-NAME\"", "\"\"", "\"BAD NAME\"", "\"ÉTÉ\""] {
            #expect(warnings.contains { $0.contains(bad) }, "no warning names \(bad): \(warnings)")
        }
        #expect(warnings.contains { $0.contains("NUL") && $0.contains("NUL byte") })
        #expect(script == "#!/bin/sh\nexport GOOD=\"${GOOD:-\"yes\"}\"\n")
        let r = try Self.run("/bin/sh", script + "printf '%s' \"$GOOD\"\n")
        #expect(r.status == 0 && r.stdout == Array("yes".utf8))
    }

    // MARK: §5.8 labels.json

    @Test("§5.8: labels.json holds the image labels and the build labels, Go-formatted")
    func labelsJSON() throws {
        let imageLabels = [
            "maintainer": "Ann <ann@example.org> & co",
            "description": "line\nbreak \"quoted\" back\\slash\ttab",
            "org.label-schema.schema-version": "0.9",  // overridden by the build label
            "zz.unicode": "名前 \u{2028}",
            "a.control": "\u{01}\u{08}\u{0C}",
        ]
        let cfg = try Self.config(labels: imageLabels, created: "2024-02-29T12:34:56.789Z")
        let generated = SandboxMetadata.generate(config: cfg, reference: "docker://docker.io/library/alpine:3.19",
                                                 architecture: "arm64", options: .init(manifestDigest: "sha256:" + String(repeating: "ab", count: 32)),
                                                 existing: { _ in nil })
        let files = try SandboxTreeTests.filesIn(generated.tar)
        let text = try #require(files[".singularity.d/labels.json"])
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String])
        var expected = imageLabels
        expected["org.label-schema.schema-version"] = "1.0"
        expected["org.label-schema.build-date"] = "Thursday_29_February_2024_12:34:56_UTC"
        expected["org.label-schema.build-arch"] = "arm64"
        expected["org.label-schema.usage.singularity.deffile.bootstrap"] = "docker"
        expected["org.label-schema.usage.singularity.deffile.from"] = "docker.io/library/alpine:3.19"
        expected["org.opencontainers.image.base.name"] = "docker.io/library/alpine:3.19"
        expected["org.opencontainers.image.base.digest"] = "sha256:" + String(repeating: "ab", count: 32)
        #expect(parsed == expected)

        // json.MarshalIndent(map, "", "\t"): sorted keys, tab indent, no trailing newline, HTML-safe.
        #expect(text.hasPrefix("{\n\t\"a.control\": \"\\u0001\\b\\f\",\n\t\"description\": "))
        #expect(text.hasSuffix("\"\n}"))
        let keys = text.split(separator: "\n").dropFirst().dropLast().map { line -> String in
            #expect(line.hasPrefix("\t\"") && !line.hasPrefix("\t\t"))
            return String(line.dropFirst(2).prefix { $0 != "\"" })
        }
        #expect(keys == expected.keys.sorted())
        #expect(text.contains("\"Ann \\u003cann@example.org\\u003e \\u0026 co\""))
        #expect(text.contains("名前 \\u2028"))
        #expect(files[".singularity.d/Singularity"] == "bootstrap: docker\nfrom: docker.io/library/alpine:3.19\n\n")
    }

    @Test("§5.8: without image labels or a digest, only the build labels")
    func labelsWithoutImageLabels() throws {
        let generated = SandboxMetadata.generate(config: try Self.config(created: nil), reference: "debian", architecture: "amd64",
                                                 existing: { _ in nil })
        let text = try #require(try SandboxTreeTests.filesIn(generated.tar)[".singularity.d/labels.json"])
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String])
        #expect(parsed == [
            "org.label-schema.schema-version": "1.0",
            "org.label-schema.build-date": "Thursday_1_January_1970_0:0:0_UTC",
            "org.label-schema.build-arch": "amd64",
            "org.label-schema.usage.singularity.deffile.bootstrap": "docker",
            "org.label-schema.usage.singularity.deffile.from": "debian",
        ])
    }

    // MARK: build date and mtimes (reproducibility)

    @Test("build-date label matches GNU date's rendering of the same instant")
    func buildDateMatchesDate() throws {
        for t: Int64 in [0, 59, 951_782_400, 951_868_799, 1_709_210_096, 4_102_444_800, 2_000_000_000, 1_234_567_890] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["LC_ALL=C", "TZ=UTC", "date", "-u", "-d", "@\(t)", "+%A_%-d_%B_%Y_%-H:%-M:%-S_UTC"]
            let out = Pipe()
            p.standardOutput = out
            try p.runSerialized()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(SandboxTime.buildDateLabel(t) == text.trimmingCharacters(in: .newlines), "t = \(t)")
        }
    }

    @Test("RFC 3339 'created' parses to the instant GNU date gives")
    func createdParsesLikeDate() throws {
        let samples = ["2024-02-29T23:59:59Z", "2023-11-23T17:44:01.123456789+02:00", "1999-12-31T23:00:00-05:30",
                       "1970-01-01T00:00:00Z", "2100-03-01T00:00:00.5Z"]
        for s in samples {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["LC_ALL=C", "date", "-u", "-d", s, "+%s"]
            let out = Pipe()
            p.standardOutput = out
            try p.runSerialized()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(SandboxTime.parseRFC3339(s) == Int64(text.trimmingCharacters(in: .newlines)), "\(s)")
        }
        for bad in ["", "2024-02-29", "2024-02-29T12:00:00", "2024-13-01T00:00:00Z", "2024-02-29T12:00:00.Z",
                    "2024-02-29T12:00:00+0200", "yesterday", "2016-12-31T23:59:60Z", "2024-02-29T12:00:00Zjunk"] {
            #expect(SandboxTime.parseRFC3339(bad) == nil, "\(bad)")
        }
    }

    @Test("mtimes are the config's created time (epoch when absent or bad); equal inputs, equal bytes")
    func generationIsReproducible() throws {
        let cfg = try Self.config(env: ["A=1"], entrypoint: ["/bin/true"], labels: ["x": "y"], created: "2021-06-01T10:00:00Z")
        let a = SandboxMetadata.generate(config: cfg, reference: "r:1", architecture: "amd64", existing: { _ in nil })
        let b = SandboxMetadata.generate(config: cfg, reference: "r:1", architecture: "amd64", existing: { _ in nil })
        #expect(a.tar == b.tar)
        #expect(a.mtime == 1_622_541_600)
        let entries = try SandboxTreeTests.entriesIn(a.tar)
        #expect(!entries.isEmpty && entries.allSatisfy { $0.mtime == 1_622_541_600 && $0.uid == 0 && $0.gid == 0 })

        let bad = SandboxMetadata.generate(config: try Self.config(created: "last tuesday"), reference: "r:1",
                                           architecture: "amd64", existing: { _ in nil })
        #expect(bad.mtime == 0)
        #expect(bad.warnings.contains { $0.contains("last tuesday") && $0.contains("r:1") })
        let early = SandboxMetadata.generate(config: try Self.config(created: "0001-01-01T00:00:00Z"), reference: "r:1",
                                             architecture: "amd64", existing: { _ in nil })
        #expect(early.mtime == 0 && !early.warnings.contains { $0.contains("created") })
    }
}
