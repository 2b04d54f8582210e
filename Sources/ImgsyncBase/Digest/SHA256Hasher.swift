import CImgsyncCrypto

/// Incremental SHA-256 over OpenSSL's EVP interface (uses SHA-NI where the CPU has it).
/// Owns its `EVP_MD_CTX`; confined to one thread at a time.
public final class SHA256Hasher {
    private let ctx: OpaquePointer

    public init() {
        guard let ctx = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed: out of memory") }
        self.ctx = ctx
        EVP_DigestInit_ex(ctx, EVP_sha256(), nil)
    }

    deinit { EVP_MD_CTX_free(ctx) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(ctx, base, bytes.count)
    }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Finishes the hash and resets the hasher for reuse.
    public func finalize() -> Digest {
        let digest = withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { out -> Digest in
            var len: UInt32 = 0
            EVP_DigestFinal_ex(ctx, out.baseAddress!.assumingMemoryBound(to: UInt8.self), &len)
            return Digest(raw: UnsafeRawBufferPointer(out))
        }
        EVP_DigestInit_ex(ctx, EVP_sha256(), nil)
        return digest
    }

    public static func hash(_ bytes: UnsafeRawBufferPointer) -> Digest {
        let h = SHA256Hasher()
        h.update(bytes)
        return h.finalize()
    }

    public static func hash(_ bytes: [UInt8]) -> Digest {
        bytes.withUnsafeBytes { hash($0) }
    }
}
