import ImgsyncCore

/// Digest strings from users and registries (references, descriptors, `Docker-Content-Digest`,
/// `Location`) are validated here before they reach a URL or a path (R50).
public enum RegistryDigest {
    /// A digest in the descriptor grammar `algorithm ":" encoded`, split but not yet verified.
    public struct Parsed: Hashable, Sendable {
        public let algorithm: String
        public let encoded: String
    }

    /// Parses a sha256 digest strictly. A grammatical digest of another algorithm (`sha512:…`,
    /// `md5:…`, `sha256+b64:…`) is `.unsupportedAlgorithm`; anything else malformed is `.invalidDigest`.
    public static func parse(_ string: String, what: String) throws -> Digest {
        let parsed = try split(string, what: what)
        guard parsed.algorithm == "sha256" else {
            throw ImgsyncError(
                .unsupportedAlgorithm,
                "\(what): digest \"\(string)\" uses algorithm \"\(parsed.algorithm)\", which imgsync cannot verify (only sha256)"
            )
        }
        do {
            return try Digest(parsing: string)
        } catch let error as ImgsyncError {
            throw ImgsyncError(.invalidDigest, "\(what): \(error.message)")
        }
    }

    /// Checks the descriptor grammar only: `[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+`.
    public static func split(_ string: String, what: String) throws -> Parsed {
        let b = Array(string.utf8)
        guard let colon = b.firstIndex(of: 0x3A), colon > 0, colon < b.count - 1 else {
            throw invalid(string, what)
        }
        let alg = b[..<colon]
        let enc = b[(colon + 1)...]
        func lowerAlnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
        func sep(_ c: UInt8) -> Bool { c == 0x2B || c == 0x2E || c == 0x5F || c == 0x2D }
        var previousWasSeparator = true
        for c in alg {
            if lowerAlnum(c) { previousWasSeparator = false; continue }
            guard sep(c), !previousWasSeparator else { throw invalid(string, what) }
            previousWasSeparator = true
        }
        guard !previousWasSeparator else { throw invalid(string, what) }
        guard enc.allSatisfy({ lowerAlnum($0) || ($0 >= 0x41 && $0 <= 0x5A) || $0 == 0x3D || $0 == 0x5F || $0 == 0x2D })
        else { throw invalid(string, what) }
        let algorithm = String(decoding: alg, as: UTF8.self)
        let encoded = String(decoding: enc, as: UTF8.self)
        // Registered algorithms have a fixed lowercase-hex encoding; uppercase hex MUST NOT be used.
        let hexLength = ["sha256": 64, "sha512": 128][algorithm]
        if let hexLength {
            guard enc.count == hexLength, enc.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
            else { throw invalid(string, what) }
        }
        return Parsed(algorithm: algorithm, encoded: encoded)
    }

    private static func invalid(_ string: String, _ what: String) -> ImgsyncError {
        ImgsyncError(.invalidDigest, "\(what): invalid digest \"\(string)\": expected sha256:<64 lowercase hex digits>")
    }
}
