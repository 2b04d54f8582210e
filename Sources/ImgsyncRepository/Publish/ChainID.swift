/// Layer chain identity as in the OCI image-spec: ChainID(L0) = DiffID(L0),
/// ChainID(L0…Ln) = sha256(ChainID(L0…Ln-1) + " " + DiffID(Ln)).
public enum ChainID {
    public static func chain(_ diffIDs: [Digest]) -> [Digest] {
        var out: [Digest] = []
        for d in diffIDs {
            if let prev = out.last {
                out.append(SHA256Hasher.hash(Array("\(prev) \(d)".utf8)))
            } else {
                out.append(d)
            }
        }
        return out
    }
}
