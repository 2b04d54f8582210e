import CImgsyncCrypto

/// One-shot SHA-512 (OpenSSL EVP), only to check a `Docker-Content-Digest: sha512:…` header (R27).
enum SHA512 {
    static func hex(_ bytes: [UInt8]) -> String {
        guard let ctx = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed: out of memory") }
        defer { EVP_MD_CTX_free(ctx) }
        EVP_DigestInit_ex(ctx, EVP_sha512(), nil)
        bytes.withUnsafeBytes { if let base = $0.baseAddress { EVP_DigestUpdate(ctx, base, $0.count) } }
        var out = [UInt8](repeating: 0, count: 64)
        var length: UInt32 = 0
        out.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(ctx, $0.baseAddress, &length) }
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: out.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] }, as: UTF8.self)
    }
}
