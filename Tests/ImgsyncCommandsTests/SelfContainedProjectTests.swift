import Foundation
import Testing

/// The project explains itself: every rule id (D, U, R) and design section the code, tests and scripts
/// cite is written in the project's own docs, and nothing but the OSG list test reads files beside the
/// checkout (`../shared`).
@Suite struct SelfContainedProjectTests {
    static let checkout = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Text files under `folders` of the checkout, as (relative path, contents).
    static func files(under folders: [String]) -> [(path: String, text: String)] {
        var out: [(String, String)] = []
        for folder in folders {
            let base = checkout.appendingPathComponent(folder)
            guard let walk = FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil) else { continue }
            for case let url as URL in walk {
                guard let data = FileManager.default.contents(atPath: url.path),
                      let text = String(data: data, encoding: .utf8) else { continue }
                out.append((folder + url.path.dropFirst(base.path.count), text))
            }
        }
        return out
    }

    static func matches(_ pattern: String, in text: String) -> [[String]] {
        let regex = try! NSRegularExpression(pattern: pattern)
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { m in
            (0..<m.numberOfRanges).map { i in Range(m.range(at: i), in: text).map { String(text[$0]) } ?? "" }
        }
    }

    static let cited = ["Sources", "Tests", "scripts", "Benchmarks"]

    @Test func everyCitedRuleIsInTheConformanceDoc() throws {
        let doc = try String(contentsOf: Self.checkout.appendingPathComponent("docs/conformance.md"), encoding: .utf8)
        let defined = Set(Self.matches(#"\*\*([UDRI][0-9]+)"#, in: doc).map { $0[1] })
        #expect(defined.count > 200, "the doc defines its rules in bold (**U1**): found \(defined.count)")
        var missing: [String] = []
        var citations = 0
        for file in Self.files(under: Self.cited) {
            for m in Self.matches(#"(?<![A-Za-z0-9_])([UDR][0-9]{1,3})(?![0-9])"#, in: file.text) {
                citations += 1
                if !defined.contains(m[1]) { missing.append("\(file.path): \(m[1])") }
            }
        }
        #expect(citations > 300, "found \(citations) citations")
        #expect(missing.isEmpty, "cited but not in docs/conformance.md: \(missing.prefix(20))")
    }

    @Test func everyCitedDesignSectionExists() throws {
        var missing: [String] = []
        var citations = 0
        for file in Self.files(under: Self.cited) {
            for m in Self.matches(#"(design|apptainer-sandbox)(?:\.md)? §([0-9]+[a-z]?)(?:\.([0-9]+))?"#, in: file.text) {
                citations += 1
                let doc = try String(contentsOf: Self.checkout.appendingPathComponent("docs/\(m[1]).md"), encoding: .utf8)
                let lines = doc.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                guard let start = lines.firstIndex(where: { $0.hasPrefix("## \(m[2]). ") }) else {
                    missing.append("\(file.path): \(m[0])"); continue
                }
                if !m[3].isEmpty {
                    let section = lines[(start + 1)...].prefix { !$0.hasPrefix("## ") }
                    if !section.contains(where: { $0.hasPrefix("\(m[3]). ") || $0.hasPrefix("### \(m[2]).\(m[3])") }) {
                        missing.append("\(file.path): \(m[0])")
                    }
                }
            }
        }
        #expect(citations > 20, "found \(citations) citations")
        #expect(missing.isEmpty, "cited but not in docs/: \(missing.prefix(20))")
    }

    /// Only the image-list tests may read `../shared` (OSG's real list); the code, scripts and build
    /// depend on nothing beside the checkout.
    @Test func nothingButTheOSGListTestReadsBesideTheCheckout() {
        var offenders: [String] = []
        for file in Self.files(under: ["Sources", "Tests", "scripts", "Benchmarks", ".ci"]) + Self.rootFiles() {
            // Comments may say where CI puts things; code may not use it.
            let code = file.text.split(separator: "\n").filter { line in
                let t = line.drop { $0 == " " }
                return !t.hasPrefix("#") && !t.hasPrefix("//")
            }
            guard code.contains(where: { $0.contains("../shared") || $0.contains("shared/data/") || $0.contains("shared/spec/") }) else { continue }
            if file.path == "Tests/ImgsyncSyncTests/ImageListTests.swift" || file.path == "Tests/ImgsyncCommandsTests/SelfContainedProjectTests.swift" { continue }
            offenders.append(file.path)
        }
        #expect(offenders.isEmpty, "\(offenders)")
    }

    static func rootFiles() -> [(path: String, text: String)] {
        ["Package.swift"].compactMap { name in
            (try? String(contentsOf: checkout.appendingPathComponent(name), encoding: .utf8)).map { (name, $0) }
        }
    }
}
