import Foundation

/// A throw-away CA and a server certificate for 127.0.0.1–127.0.0.3 and localhost, plus an RSA key and
/// self-signed certificate that a token server signs JWTs with.
struct TestCA: Sendable {
    let caCert: String
    let serverCert: String
    let serverKey: String
    let signKey: String
    let signCert: String
    /// A directory holding only `ca.crt`, for skopeo's `--dest-cert-dir`.
    let certDir: String

    static func make(in dir: TestDirectory) async throws -> TestCA {
        let d = dir.path
        try dir.write("ext.cnf", "subjectAltName=IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        try await ChildProcess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "\(d)/ca.key"])
        try await ChildProcess.run(["openssl", "req", "-x509", "-new", "-key", "\(d)/ca.key", "-sha256", "-days", "2",
                                    "-subj", "/CN=imgsync test CA", "-out", "\(d)/ca.crt"])
        try await ChildProcess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "\(d)/server.key"])
        try await ChildProcess.run(["openssl", "req", "-new", "-key", "\(d)/server.key", "-subj", "/CN=127.0.0.1", "-out", "\(d)/server.csr"])
        try await ChildProcess.run(["openssl", "x509", "-req", "-in", "\(d)/server.csr", "-CA", "\(d)/ca.crt", "-CAkey", "\(d)/ca.key",
                                    "-CAcreateserial", "-days", "2", "-sha256", "-extfile", "\(d)/ext.cnf", "-out", "\(d)/server.crt"])
        try await ChildProcess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(d)/sign.key",
                                    "-out", "\(d)/sign.crt", "-days", "2", "-subj", "/CN=imgsync token signer"])
        try FileManager.default.createDirectory(atPath: "\(d)/certs", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(d)/ca.crt", toPath: "\(d)/certs/ca.crt")
        return TestCA(caCert: "\(d)/ca.crt", serverCert: "\(d)/server.crt", serverKey: "\(d)/server.key",
                      signKey: "\(d)/sign.key", signCert: "\(d)/sign.crt", certDir: "\(d)/certs")
    }
}
