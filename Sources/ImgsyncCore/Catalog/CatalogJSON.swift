import Foundation

/// The JSON Lines rendering of catalog entries (docs/catalog-format.md). Paths, link targets and
/// xattr values are base64 of the exact bytes; `path` is for reading only.
public enum CatalogJSON {
    public static func line(_ e: CatalogEntry) -> String {
        var xattrs: [String: String] = [:]
        for x in e.xattrs { xattrs[String(decoding: x.name, as: UTF8.self)] = Data(x.value).base64EncodedString() }
        let obj: [String: Any] = [
            "path_b64": Data(e.path).base64EncodedString(),
            "path": String(decoding: e.path, as: UTF8.self),
            "type": e.type.description,
            "mode": Int(e.mode), "uid": Int(e.uid), "gid": Int(e.gid),
            "mtime": Int(e.mtime), "mtime_nsec": Int(e.mtimeNsec), "size": Int(e.size),
            "sha256": e.sha256.map { $0.hex as Any } ?? NSNull(),
            "link_b64": e.type == .symlink ? Data(e.linkTarget).base64EncodedString() : NSNull(),
            "link_group": Int(e.linkGroup), "dev_major": Int(e.devMajor), "dev_minor": Int(e.devMinor),
            "xattrs": xattrs, "implied": e.implied,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
