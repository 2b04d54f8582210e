import AsyncHTTPClient
import Foundation
import ImgsyncCore
import NIOCore
import NIOPosix
import NIOSSL

extension RegistryClient {
    /// Turns a transport error into an `ImgsyncError`: TLS failures are `.tls` (never retried, never
    /// downgraded, R55), timeouts `.timeout` (R54), the rest `.network`.
    func classify(_ error: any Error, what: String) -> ImgsyncError {
        if let error = error as? ImgsyncError { return error }
        if error is CancellationError { return ImgsyncError(.network, "\(what): cancelled") }
        if isTLSError(error) {
            return ImgsyncError(.tls, "TLS failure talking to \(what): \(Self.tlsReason(error)); if the registry uses a private CA, pass it with --ca-file (or SSL_CERT_FILE)")
        }
        if let http = error as? HTTPClientError {
            let timeouts: [HTTPClientError] = [.connectTimeout, .readTimeout, .deadlineExceeded, .writeTimeout]
            return ImgsyncError(timeouts.contains(http) ? .timeout : .network, "\(what): \(http)")
        }
        if let channel = error as? ChannelError, case .connectTimeout = channel {
            return ImgsyncError(.timeout, "\(what): connect timed out")
        }
        if let io = error as? IOError {
            return ImgsyncError(.network, "\(what): \(String(cString: strerror(io.errnoCode)))", errno: io.errnoCode)
        }
        if let connect = error as? NIOConnectionError, let first = connect.connectionErrors.first {
            return classify(first.error, what: what)
        }
        return ImgsyncError(.network, "\(what): \(error)")
    }

    /// What went wrong in a TLS failure, in a few words: the TLS library's own text carries error
    /// numbers and its build paths, which tell an operator nothing.
    static func tlsReason(_ error: any Error) -> String {
        let text = "\(error)"
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return "the server's certificate does not name this host"
        }
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "the server's certificate is not trusted (unknown CA, expired, or not for this host)"
        }
        if text.contains("WRONG_VERSION_NUMBER") || text.contains("HTTP_REQUEST") {
            return "the server does not speak TLS on this port"
        }
        // The library's reason code (e.g. SSLV3_ALERT_HANDSHAKE_FAILURE), without numbers or paths.
        var codes: [Substring] = []
        for word in text.split(whereSeparator: { !($0.isUppercase || $0 == "_" || $0.isNumber) }) where word.count >= 8 && word.contains("_") {
            codes.append(word)
        }
        return codes.last.map { "the TLS handshake failed (\($0))" } ?? "the TLS handshake failed"
    }

    func isRetryable(_ error: any Error) -> Bool {
        if error is CancellationError || isTLSError(error) { return false }
        if let http = error as? HTTPClientError {
            let permanent: [HTTPClientError] = [.cancelled, .invalidURL, .emptyHost, .emptyScheme]
            return !permanent.contains(http)
        }
        return true
    }

    private func isTLSError(_ error: any Error) -> Bool {
        if let ssl = error as? NIOSSLError {
            if case .uncleanShutdown = ssl { return false }
            return true
        }
        if error is NIOSSLExtraError || error is BoringSSLError { return true }
        if let connect = error as? NIOConnectionError {
            return connect.connectionErrors.contains { isTLSError($0.error) } || connect.dnsAError.map(isTLSError) == true
        }
        return false
    }
}
