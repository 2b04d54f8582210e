import ImgsyncCore
import Testing
@testable import ImgsyncRegistry

@Suite struct AuthChallengeTests {
    func select(_ headers: String...) throws -> AuthChallenge {
        try AuthChallenge.select(fromHeaders: headers, registry: "REG")
    }

    /// R11: lowercase scheme, unquoted values.
    @Test func unquotedLowercase() throws {
        let c = try select("bearer realm=https://a/t,service=x")
        #expect(c.scheme == .bearer)
        #expect(c.realm == "https://a/t")
        #expect(c.service == "x")
    }

    /// R11: quoted values with escapes, spaces after commas, case-insensitive keys.
    @Test func quotedEscapes() throws {
        let c = try select(#"Bearer Realm="https://a/t", SERVICE="r\"x""#)
        #expect(c.realm == "https://a/t")
        #expect(c.service == #"r"x"#)
    }

    @Test func basicWithSpaces() throws {
        let c = try select(#"Basic realm="GitHub Package Registry""#)
        #expect(c.scheme == .basic)
        #expect(c.realm == "GitHub Package Registry")
    }

    /// R11: the scope's resource name may contain a port.
    @Test func scopeWithPort() throws {
        let c = try select(#"Bearer realm="https://a/t",service="s",scope="repository:h:5000/ns/img:pull""#)
        #expect(c.scopes == ["repository:h:5000/ns/img:pull"])
        let scope = try #require(TokenScope(parsing: c.scopes[0]))
        #expect(scope.type == "repository")
        #expect(scope.name == "h:5000/ns/img")
        #expect(scope.actions == ["pull"])
    }

    /// R6: several scopes in one parameter; `error` is read.
    @Test func insufficientScope() throws {
        let c = try select(#"Bearer realm="https://a/t",scope="repository:lib/a:pull repository:lib/base:pull",error="insufficient_scope""#)
        #expect(c.scopes == ["repository:lib/a:pull", "repository:lib/base:pull"])
        #expect(c.error == "insufficient_scope")
    }

    /// R12: several challenges in one header; Bearer preferred over Basic.
    @Test func bearerPreferredInOneHeader() throws {
        let c = try select(#"Basic realm="x", Bearer realm="https://a/t",service="s""#)
        #expect(c.scheme == .bearer)
        #expect(c.realm == "https://a/t")
        #expect(c.service == "s")
    }

    /// R12: several headers.
    @Test func bearerPreferredAcrossHeaders() throws {
        let c = try select(#"Basic realm="x""#, #"Bearer realm="https://a/t",service="s""#)
        #expect(c.scheme == .bearer)
        #expect(c.service == "s")
    }

    @Test func unknownSchemesIgnored() throws {
        let c = try select(#"Negotiate abc==, Basic realm="r""#)
        #expect(c.scheme == .basic)
    }

    /// R12: malformed or missing realm → `.authChallenge`, never a guessed URL.
    @Test(arguments: [
        #"Bearer service="s""#,
        #"Bearer realm="https://a/t"#,
        #"Bearer realm="https://a/t\"#,
        #"Bearer realm="#,
        "Negotiate",
        "",
        #"realm="x""#,
    ])
    func malformed(_ header: String) {
        #expect { try AuthChallenge.select(fromHeaders: [header], registry: "REG") } throws: {
            ($0 as? ImgsyncError)?.code == .authChallenge
        }
    }
}
