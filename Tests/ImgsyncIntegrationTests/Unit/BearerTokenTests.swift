import Foundation
import ImgsyncCore
import Testing
@testable import ImgsyncRegistry

@Suite struct BearerTokenTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    func parse(_ json: String, at time: Date? = nil) throws -> BearerToken {
        try BearerToken.parse(Array(json.utf8), now: time ?? now, realm: "https://auth/token")
    }

    /// R3: which field is used.
    @Test func fields() throws {
        #expect(try parse(#"{"access_token":"A"}"#).token == "A")
        #expect(try parse(#"{"token":"T","access_token":"A"}"#).token == "T")
        #expect(try parse(#"{"token":"","access_token":"A"}"#).token == "A")
        #expect(try parse(#"{"token":"T","refresh_token":"R"}"#).refreshToken == "R")
    }

    @Test(arguments: ["{}", "not json", #"{"token":""}"#, "[]", ""])
    func noToken(_ body: String) {
        #expect { try parse(body) } throws: {
            let e = $0 as? ImgsyncError
            return e?.code == .auth && e?.message.contains("returned no token") == true
        }
    }

    /// R4: issued_at 50 s ago with expires_in 60 → expired 15 s later.
    @Test func expiryFromIssuedAt() throws {
        let issued = ISO8601DateFormatter().string(from: now.addingTimeInterval(-50))
        let token = try parse(#"{"token":"T1","expires_in":60,"issued_at":"\#(issued)"}"#)
        #expect(!token.isExpired(at: now))
        #expect(token.isExpired(at: now.addingTimeInterval(15)))
        #expect(token.expiresAt == now.addingTimeInterval(10))
    }

    /// R4: missing or short expires_in → 60 s from the end of the exchange.
    @Test(arguments: [#"{"token":"T"}"#, #"{"token":"T","expires_in":10}"#, #"{"token":"T","expires_in":-5}"#])
    func minimumLifetime(_ body: String) throws {
        let token = try parse(body)
        #expect(token.expiresAt == now.addingTimeInterval(60))
    }

    @Test func longLifetimeAndFractionalIssuedAt() throws {
        let token = try parse(#"{"token":"T","expires_in":300,"issued_at":"2023-11-14T22:13:00.123Z"}"#)
        #expect(abs(token.expiresAt.timeIntervalSince(Date(timeIntervalSince1970: 1_699_999_980.123 + 300))) < 0.01)
    }

    /// An issued_at in the future (clock skew) counts from now.
    @Test func futureIssuedAtIsCapped() throws {
        let token = try parse(#"{"token":"T","expires_in":60,"issued_at":"2030-01-01T00:00:00Z"}"#)
        #expect(token.expiresAt == now.addingTimeInterval(60))
    }
}

@Suite struct FormEncodingTests {
    @Test func onlyUnreservedASCIIStays() {
        #expect(RegistryClient.formEncode("a-b._~Z9") == "a-b._~Z9")
        #expect(RegistryClient.formEncode("p w&=+é:/") == "p%20w%26%3D%2B%C3%A9%3A%2F")
    }
}
