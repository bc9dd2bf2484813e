import Testing

@testable import Switchyard

@Suite struct ChannelNameTests {
    @Test(arguments: ["market_data:btc_price", "quotes.realtime", "price.updated.AAPL", "trades:user_0001", "a", "x-y_z:1.2"])
    func acceptsChannelNames(_ name: String) throws {
        #expect(try ChannelName(name).rawValue == name)
    }

    @Test(arguments: ["", ":", "a:", ":a", "a::b", "a..b", "a.:b", "a b", "trades:*", "é", "a/b", String(repeating: "a", count: 257)])
    func refusesOthers(_ name: String) {
        #expect(throws: SwitchyardError.self) { try ChannelName(name) }
        #expect(!ChannelName.isValid(name))
    }

    @Test func errorIsInvalidChannel() {
        do {
            _ = try ChannelName("a::b")
            Issue.record("accepted a::b")
        } catch {
            #expect(error.code == .invalidChannel)
            #expect(error.message.contains("empty segment"))
        }
    }
}

@Suite struct ChannelPatternTests {
    @Test(arguments: globTable)
    func matchesAsRedisDoes(_ row: GlobCase) throws {
        #expect(try ChannelPattern(row.pattern).matches(row.channel) == row.matches)
    }

    @Test func literalPrefixStopsAtFirstGlobCharacter() throws {
        #expect(try ChannelPattern("trades:*").literalPrefix == "trades:")
        #expect(try ChannelPattern("price.updated.*").literalPrefix == "price.updated.")
        #expect(try ChannelPattern("a?b").literalPrefix == "a")
        #expect(try ChannelPattern("[ab]").literalPrefix == "")
        #expect(try ChannelPattern("quotes.realtime").literalPrefix == "quotes.realtime")
    }

    @Test func patternsOverlapOnlyWhenOneLiteralPrefixStartsTheOther() throws {
        func overlap(_ a: String, _ b: String) throws -> Bool { try ChannelPattern(a).mayOverlap(ChannelPattern(b)) }
        #expect(try overlap("trades:*", "trades:user_1"))
        #expect(try overlap("trades:user_1", "trades:*"))
        #expect(try overlap("*", "x123*"))
        #expect(try overlap("trades:u*", "trades:*x"))
        #expect(try !overlap("trades:user_1", "x123*"))
        #expect(try !overlap("quotes.*", "trades:*"))
        #expect(try !overlap("trades:user_1", "trades:user_2"))
        // A plain name overlaps a pattern only when the pattern matches it.
        #expect(try !overlap("trades:user_1", "trades:user_1?"))
        #expect(try overlap("trades:user_1", "trades:user_?"))
        #expect(try !overlap("trades:user_1?", "trades:user_1"))
        // Sound for every channel the two patterns match.
        for channel in ["trades:user_1", "trades:user_12", "quotes.a", "x1234"] {
            let name = try ChannelName(channel)
            for a in ["trades:*", "trades:user_1", "quotes.?", "x123*", "*"] {
                for b in ["trades:user_1?", "quotes.*", "x*", "trades:[u]*"] {
                    let (pa, pb) = (try ChannelPattern(a), try ChannelPattern(b))
                    if pa.matches(name) && pb.matches(name) { #expect(pa.mayOverlap(pb), "\(a) and \(b) both match \(channel)") }
                }
            }
        }
    }

    @Test func literalPatternsHaveNoGlobSyntax() throws {
        #expect(try ChannelPattern("quotes.realtime").isLiteral)
        #expect(try !ChannelPattern("trades:*").isLiteral)
        #expect(try !ChannelPattern("a\\*").isLiteral)
    }

    @Test(.timeLimit(.minutes(1))) func abusivePatternEndsQuickly() throws {
        let pattern = try ChannelPattern(String(repeating: "*a", count: 100) + "b")
        #expect(!pattern.matches(String(repeating: "a", count: 200)))
    }

    @Test func refusesEmptyAndOverlongPatterns() {
        #expect(throws: SwitchyardError.self) { try ChannelPattern("") }
        #expect(throws: SwitchyardError.self) { try ChannelPattern(String(repeating: "*", count: 300)) }
    }
}
