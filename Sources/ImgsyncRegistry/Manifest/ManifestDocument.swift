import Foundation
import ImgsyncCore

/// A decoded manifest document: an index (→ platform selection) or an image manifest.
public enum ManifestDocument: Hashable, Sendable {
    case index(ImageIndex, mediaType: String)
    case manifest(ImageManifest, mediaType: String)

    public var mediaType: String {
        switch self {
        case .index(_, let m), .manifest(_, let m): return m
        }
    }

    /// Content types that say nothing about the document; the body's `mediaType` or shape decides (R18).
    static let genericContentTypes: Set<String> = ["application/octet-stream", "application/json", "text/plain", "binary/octet-stream"]

    /// Decodes a manifest body, checking it against the response's `Content-Type`:
    /// - parameters of the Content-Type are ignored (R15);
    /// - a known Content-Type must agree with the body's `mediaType` and shape (R16);
    /// - a body with `manifests` and also `config`/`layers` is ambiguous and rejected (R17);
    /// - a generic or missing Content-Type falls back to the body's `mediaType`, then to its shape (R18);
    /// - schema 1 is a clear error (R19).
    /// `source` names the manifest in errors (`127.0.0.1:5443/lib/a:1`).
    public static func decode(_ body: [UInt8], contentType: String?, source: String) throws -> ManifestDocument {
        let header = MediaType.essence(contentType)
        if header == MediaType.dockerSchema1 || header == MediaType.dockerSchema1Signed {
            throw schema1(source)
        }
        struct Shape: Decodable {
            var schemaVersion: Int?
            var mediaType: String?
            var manifests: AnyJSON?
            var config: AnyJSON?
            var layers: AnyJSON?
            var fsLayers: AnyJSON?
        }
        let data = Data(body)
        let shape: Shape
        do {
            shape = try JSONDecoder().decode(Shape.self, from: data)
        } catch {
            throw ImgsyncError(.manifest, "\(source): the manifest is not a JSON object (\(contentType ?? "no Content-Type"))")
        }
        if shape.schemaVersion == 1 || shape.fsLayers != nil { throw schema1(source) }
        let hasIndexShape = shape.manifests != nil
        let hasManifestShape = shape.config != nil || shape.layers != nil
        if hasIndexShape && hasManifestShape {
            throw ImgsyncError(.ambiguousManifest, "\(source): the document has both \"manifests\" and \"config\"/\"layers\"; refusing an ambiguous manifest")
        }
        let bodyType = shape.mediaType
        if let bodyType, bodyType == MediaType.dockerSchema1 || bodyType == MediaType.dockerSchema1Signed {
            throw schema1(source)
        }

        var type: String
        if let header, MediaType.indexTypes.contains(header) || MediaType.manifestTypes.contains(header) {
            if let bodyType, bodyType != header {
                throw ImgsyncError(.manifestMediaTypeMismatch, "\(source): Content-Type is \(header) but the document says mediaType \(bodyType.debugQuoted)")
            }
            type = header
        } else if header == nil || genericContentTypes.contains(header!) {
            if let bodyType {
                type = bodyType
            } else if hasIndexShape {
                type = MediaType.ociIndex
            } else if hasManifestShape {
                type = MediaType.ociManifest
            } else {
                throw ImgsyncError(.manifest, "\(source): the document has no mediaType and is neither a manifest nor an index")
            }
        } else {
            throw ImgsyncError(.unsupportedMediaType, "\(source): unsupported manifest media type \(header!.debugQuoted)")
        }

        let isIndex = MediaType.indexTypes.contains(type)
        let isManifest = MediaType.manifestTypes.contains(type)
        guard isIndex || isManifest else {
            throw ImgsyncError(.unsupportedMediaType, "\(source): unsupported manifest media type \(type.debugQuoted)")
        }
        if (isIndex && hasManifestShape) || (isManifest && hasIndexShape) {
            throw ImgsyncError(.manifestMediaTypeMismatch, "\(source): the document's fields do not match its media type \(type)")
        }
        do {
            if isIndex {
                return .index(try JSONDecoder().decode(ImageIndex.self, from: data), mediaType: type)
            }
            return .manifest(try JSONDecoder().decode(ImageManifest.self, from: data), mediaType: type)
        } catch let error as ImgsyncError {
            throw ImgsyncError(error.code, "\(source): \(error.message)")
        } catch {
            throw ImgsyncError(.manifest, "\(source): malformed \(type): \(Self.describe(error))")
        }
    }

    private static func schema1(_ source: String) -> ImgsyncError {
        ImgsyncError(.unsupportedSchema1, "\(source) is a Docker schema 1 image (deprecated); rebuild and push it again")
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let ctx):
            return "missing \"\((ctx.codingPath + [key]).map(\.stringValue).joined(separator: "."))\""
        case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx):
            return "wrong type at \"\(ctx.codingPath.map(\.stringValue).joined(separator: "."))\""
        case DecodingError.dataCorrupted(let ctx):
            return ctx.debugDescription
        default:
            return "\(error)"
        }
    }
}

/// Accepts any JSON value; only presence matters.
struct AnyJSON: Decodable {
    init(from decoder: any Decoder) throws {}
}
