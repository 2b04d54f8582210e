import Foundation
import ImgsyncCore
import Testing
@testable import ImgsyncRegistry

@Suite struct HeaderParsingTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func retryAfter() {
        #expect(HeaderParsing.retryAfter("2", now: now) == 2)
        #expect(HeaderParsing.retryAfter(" 120 ", now: now) == 120)
        // 1700000000 = Tue, 14 Nov 2023 22:13:20 GMT
        #expect(HeaderParsing.retryAfter("Tue, 14 Nov 2023 22:13:25 GMT", now: now) == 5)
        #expect(HeaderParsing.retryAfter("Tue, 14 Nov 2023 22:13:00 GMT", now: now) == 0)
        #expect(HeaderParsing.retryAfter("soon", now: now) == nil)
        #expect(HeaderParsing.retryAfter(nil, now: now) == nil)
    }

    /// R33, R35.
    @Test func contentRange() {
        #expect(HeaderParsing.contentRange("bytes 100-199/200") == .init(first: 100, last: 199, complete: 200))
        #expect(HeaderParsing.contentRange("bytes 100-199/*") == .init(first: 100, last: 199, complete: nil))
        #expect(HeaderParsing.contentRange("bytes 100-199/150") == nil)
        #expect(HeaderParsing.contentRange("bytes 200-100/300") == nil)
        #expect(HeaderParsing.contentRange("items 0-1/2") == nil)
        #expect(HeaderParsing.contentRange("bytes */200") == nil)
    }

    /// R47.
    @Test func link() {
        #expect(HeaderParsing.nextLink([#"</v2/lib/a/tags/list?n=2&last=b>; rel="next""#]) == "/v2/lib/a/tags/list?n=2&last=b")
        #expect(HeaderParsing.nextLink([#"<https://x/prev>; rel="prev", <https://x/next>; rel="next""#]) == "https://x/next")
        #expect(HeaderParsing.nextLink([#"<https://x/a>; rel=next"#]) == "https://x/a")
        #expect(HeaderParsing.nextLink([#"<https://x/a>; rel="prev""#]) == nil)
        #expect(HeaderParsing.nextLink([]) == nil)
    }

    /// R52.
    @Test func warning() {
        #expect(HeaderParsing.warning(#"299 - "This image is deprecated""#) == "This image is deprecated")
        #expect(HeaderParsing.warning(#"299 registry.example "a \"q\"""#) == #"a "q""#)
        #expect(HeaderParsing.warning("199 x") == nil)
        #expect(HeaderParsing.warning(#"299 - "unterminated"#) == nil)
        #expect(HeaderParsing.warning(#"110 - "stale""#) == nil)
    }
}

@Suite struct SlidingWindowTests {
    actor Counter {
        var running = 0, peak = 0, done = 0
        func enter() { running += 1; peak = max(peak, running) }
        func leave() { running -= 1; done += 1 }
    }

    @Test func boundsConcurrency() async throws {
        let counter = Counter()
        try await SlidingWindow.forEach(Array(0..<20), limit: 3) { _ in
            await counter.enter()
            try await Task.sleep(for: .milliseconds(10))
            await counter.leave()
        }
        #expect(await counter.peak <= 3)
        #expect(await counter.peak >= 2)
        #expect(await counter.done == 20)
    }
}
