/// The quoting rules of the scripts Apptainer 1.5 generates from an OCI config, so that a tree
/// imgsync publishes behaves like one `apptainer build --sandbox docker://…` produces.
enum ShellQuoting {
    /// Puts a backslash before `\`, `"`, `` ` `` and `$`: the four characters that keep a special
    /// meaning inside double quotes. Every other character, newlines included, stays literal there.
    static func escapeForDoubleQuotes(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            switch u {
            case "\\", "\"", "`", "$": out.append("\\")
            default: break
            }
            out.append(u)
        }
        return String(out)
    }

    /// Each word escaped and wrapped in double quotes, joined by single spaces: a command line that
    /// `eval "set …"` turns back into exactly these words.
    static func doubleQuotedWords(_ words: [String]) -> String {
        words.map { "\"" + escapeForDoubleQuotes($0) + "\"" }.joined(separator: " ")
    }

    /// Makes `s` safe between single quotes: each `'` closes the quote, adds a double-quoted `'`
    /// and reopens it.
    static func escapeSingleQuotes(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            if u == "'" {
                out.append(contentsOf: "'\"'\"'".unicodeScalars)
            } else {
                out.append(u)
            }
        }
        return String(out)
    }

    /// `^[A-Za-z_][A-Za-z0-9_]*$`: the names Apptainer exports; it skips the others.
    static func isShellName(_ name: String.UnicodeScalarView.SubSequence) -> Bool {
        guard let first = name.first, first == "_" || ("A"..."Z").contains(first) || ("a"..."z").contains(first) else {
            return false
        }
        return name.allSatisfy { $0 == "_" || ("A"..."Z").contains($0) || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }
}
