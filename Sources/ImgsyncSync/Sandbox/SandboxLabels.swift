/// `.singularity.d/labels.json`: the image's labels with the build labels Apptainer adds on top.
enum SandboxLabels {
    /// The merged labels. Build labels win over image labels of the same name, as in Apptainer.
    ///
    /// `org.label-schema.usage.apptainer.version` is left out on purpose: Apptainer records its own
    /// version there, and imgsync is not Apptainer. The base name and digest are written only when
    /// the manifest digest is known, as Apptainer does.
    static func merged(imageLabels: [String: String], reference: String, architecture: String,
                       manifestDigest: String?, buildTime: Int64) -> [String: String] {
        var labels = imageLabels
        labels["org.label-schema.schema-version"] = "1.0"
        labels["org.label-schema.build-date"] = SandboxTime.buildDateLabel(buildTime)
        labels["org.label-schema.build-arch"] = architecture
        labels["org.label-schema.usage.singularity.deffile.bootstrap"] = "docker"
        labels["org.label-schema.usage.singularity.deffile.from"] = reference
        if let manifestDigest {
            labels["org.opencontainers.image.base.name"] = reference
            labels["org.opencontainers.image.base.digest"] = manifestDigest
        }
        return labels
    }

    /// The JSON text Apptainer writes (Go's `json.MarshalIndent(labels, "", "\t")`): keys sorted by
    /// their UTF-8 bytes, one tab of indentation, Go's string escaping (including `<`, `>`, `&`,
    /// U+2028 and U+2029), no trailing newline.
    static func json(_ labels: [String: String]) -> String {
        if labels.isEmpty { return "{}" }
        let keys = labels.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let lines = keys.map { "\t" + quoted($0) + ": " + quoted(labels[$0]!) }
        return "{\n" + lines.joined(separator: ",\n") + "\n}"
    }

    static func quoted(_ s: String) -> String {
        let hex = Array("0123456789abcdef".unicodeScalars)
        var out = String.UnicodeScalarView()
        out.append("\"")
        for u in s.unicodeScalars {
            switch u {
            case "\"": out.append(contentsOf: "\\\"".unicodeScalars)
            case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            case "\u{08}": out.append(contentsOf: "\\b".unicodeScalars)
            case "\u{0C}": out.append(contentsOf: "\\f".unicodeScalars)
            case "<", ">", "&", "\u{2028}", "\u{2029}", "\u{00}"..."\u{1F}":
                let v = u.value
                out.append(contentsOf: "\\u".unicodeScalars)
                for shift in stride(from: 12, through: 0, by: -4) { out.append(hex[Int((v >> UInt32(shift)) & 0xF)]) }
            default:
                out.append(u)
            }
        }
        out.append("\"")
        return String(out)
    }
}
