import ImgsyncCore

/// An OS/architecture/variant triple (image-index.md `platform`), normalised so that equal platforms
/// compare equal: `aarch64` → `arm64`, `x86_64` → `amd64`, `arm64` ≡ `arm64/v8`, `arm` ≡ `arm/v7`,
/// `amd64` ≡ `amd64/v1` (R21).
public struct Platform: Hashable, Sendable, CustomStringConvertible, Decodable {
    public let os: String
    public let architecture: String
    public let variant: String?
    public let osVersion: String?

    public init(os: String, architecture: String, variant: String? = nil, osVersion: String? = nil) {
        let (arch, v) = Platform.normalise(architecture: architecture.lowercased(), variant: variant?.lowercased())
        self.os = os.lowercased()
        self.architecture = arch
        self.variant = v
        self.osVersion = osVersion
    }

    /// `linux/amd64`, imgsync's default.
    public static let linuxAMD64 = Platform(os: "linux", architecture: "amd64")

    /// Parses `os/arch[/variant]`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (2...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." } })
        else {
            throw ImgsyncError(.invalidArgument, "invalid platform \(text.debugQuoted): expected os/arch[/variant], e.g. linux/arm64/v8")
        }
        self.init(os: parts[0], architecture: parts[1], variant: parts.count == 3 ? parts[2] : nil)
    }

    enum CodingKeys: String, CodingKey {
        case os, architecture, variant
        case osVersion = "os.version"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            os: try c.decodeIfPresent(String.self, forKey: .os) ?? "",
            architecture: try c.decodeIfPresent(String.self, forKey: .architecture) ?? "",
            variant: try c.decodeIfPresent(String.self, forKey: .variant),
            osVersion: try c.decodeIfPresent(String.self, forKey: .osVersion)
        )
    }

    public var description: String {
        variant.map { "\(os)/\(architecture)/\($0)" } ?? "\(os)/\(architecture)"
    }

    /// Whether an index entry's platform satisfies a request. Equality after normalisation;
    /// `os.version` is not compared.
    public func matches(_ wanted: Platform) -> Bool {
        os == wanted.os && architecture == wanted.architecture && variant == wanted.variant
    }

    /// Whether an image whose config declares this platform serves a request for `wanted`: same
    /// os and architecture, and the same variant when both name one (a config often leaves the
    /// variant out). Single-platform images are checked with this, index entries with `matches`.
    public func serves(_ wanted: Platform) -> Bool {
        os == wanted.os && architecture == wanted.architecture
            && (variant == nil || wanted.variant == nil || variant == wanted.variant)
    }

    /// The word a list line or `--platform` takes to accept a single-platform image whatever its
    /// platform (`--platform any`); an index is then still resolved for the default platform. See
    /// `PlatformRequest`.
    public static let anyKeyword = "any"

    /// A short form for paths: `linux-arm64-v8`. Nil when a part holds anything but ASCII letters,
    /// digits, `.` and `_` (a `-` inside a part would make two platforms share a suffix).
    public var pathSuffix: String? {
        let parts = [os, architecture] + (variant.map { [$0] } ?? [])
        let valid = parts.allSatisfy { part in
            !part.isEmpty && part.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F
            }
        }
        return valid ? parts.joined(separator: "-") : nil
    }

    static func normalise(architecture: String, variant: String?) -> (String, String?) {
        let variant = (variant?.isEmpty ?? true) ? nil : variant
        switch architecture {
        case "x86_64", "x86-64", "amd64":
            return ("amd64", variant == "v1" ? nil : variant)
        case "aarch64", "arm64":
            return ("arm64", (variant == nil || variant == "8") ? "v8" : variant)
        case "armhf":
            return ("arm", "v7")
        case "armel":
            return ("arm", "v6")
        case "arm":
            switch variant {
            case nil, "7": return ("arm", "v7")
            case "5", "6", "8": return ("arm", "v" + variant!)
            default: return ("arm", variant)
            }
        case "i386", "i486", "i586", "i686", "386":
            return ("386", variant)
        default:
            return (architecture, variant)
        }
    }
}
