import Testing

/// Pattern, channel, and whether Redis 7.0 delivers a PUBLISH on the channel to a PSUBSCRIBE on the
/// pattern. The answers were read off a real server; `ChannelPatternTests` checks the matcher
/// against them, and `ChannelPatternRedisTests` checks them against the server again.
struct GlobCase: Sendable, CustomTestStringConvertible {
    let pattern: String
    let channel: String
    let matches: Bool

    init(_ pattern: String, _ channel: String, _ matches: Bool) {
        self.pattern = pattern
        self.channel = channel
        self.matches = matches
    }

    var testDescription: String { "\(pattern) ~ \(channel)" }
}

let globTable: [GlobCase] = [
    GlobCase("trades:*", "trades:user_0001", true),
    GlobCase("trades:*", "trades:", true),
    GlobCase("trades:*", "trade", false),
    GlobCase("trades:*", "trades", false),
    GlobCase("price.updated.*", "price.updated.AAPL", true),
    GlobCase("price.updated.*", "price.updatedAAPL", false),
    GlobCase("*", "market_data:btc_price", true),
    GlobCase("h?llo", "hello", true),
    GlobCase("h?llo", "hllo", false),
    GlobCase("h?llo", "heello", false),
    GlobCase("h[ae]llo", "hallo", true),
    GlobCase("h[ae]llo", "hillo", false),
    GlobCase("h[^e]llo", "hallo", true),
    GlobCase("h[^e]llo", "hello", false),
    GlobCase("h[a-c]llo", "hbllo", true),
    GlobCase("h[a-c]llo", "hdllo", false),
    GlobCase("h[c-a]llo", "hbllo", true),
    GlobCase("h\\*llo", "h*llo", true),
    GlobCase("h\\*llo", "hello", false),
    GlobCase("a*b*c", "aXXbYYc", true),
    GlobCase("a*b*c", "aXXbYY", false),
    GlobCase("*:*", "trades:x", true),
    GlobCase("*:*", "trades.x", false),
    GlobCase("a[", "a[", false),
    GlobCase("a[", "ab", false),
    GlobCase("a[b", "ab", true),
    GlobCase("a[b-", "ab", true),
    GlobCase("a[\\]]b", "a]b", true),
    GlobCase("a[\\]]b", "a\\b", false),
    GlobCase("a\\", "a\\", true),
    GlobCase("a\\", "a", false),
    GlobCase("**x", "abx", true),
    GlobCase("x**", "x", true),
    GlobCase("x*", "x", true),
    GlobCase("?", "", false),
    GlobCase("[]]", "]", false),
    GlobCase("[]", "a", false),
    GlobCase("[^]a", "ba", true),
    GlobCase("a[-b]c", "a-c", true),
    GlobCase("a[b-]c", "a-c", false),
    GlobCase("trades:user_000[0-9]", "trades:user_0001", true),
    GlobCase("trades:user_000[!0-9]", "trades:user_0001", true),
    GlobCase("*user*", "trades:user_0001", true),
    GlobCase("market_data:*_price", "market_data:btc_price", true),
    GlobCase("market_data:*_price", "market_data:btc_prices", false),
    GlobCase("a*", "a", true),
    GlobCase("*a", "a", true),
    GlobCase("*a*", "bab", true),
    GlobCase("quotes.*", "quotes.realtime", true),
    GlobCase("quotes.?", "quotes.r", true),
    GlobCase("[a-z]*", "Quotes", false),
    GlobCase("[A-Z]*", "Quotes", true),
    GlobCase("\\", "\\", true),
    GlobCase("[", "[", false),
]
