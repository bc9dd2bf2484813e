import JSONSchema
import Testing

@Suite struct JSONWriterTests {
    @Test func writesCompactTextInMemberOrder() {
        let value: JSONValue = ["z": 1, "a": [true, nil, "x"], "m": ["k": -5]]
        #expect(value.serialized() == #"{"z":1,"a":[true,null,"x"],"m":{"k":-5}}"#)
    }

    @Test func countsBytesWithoutWriting() throws {
        let values: [JSONValue] = [
            [:], [], nil, true, false, 0, -7, 1234567890123, .int(.min), 2.5, 1e300, .double(.nan), "", "a\"b\\c\n\u{1}é😀",
            ["k\"": [1, [:], [nil, ["x": "y"]]], "": -0.0],
        ]
        for value in values {
            #expect(value.serializedByteCount == value.serialized().utf8.count, "\(value.serialized())")
        }
    }

    @Test func writesNumbers() {
        #expect(JSONValue.int(.min).serialized() == "-9223372036854775808")
        #expect(JSONValue.int(0).serialized() == "0")
        #expect(JSONValue.double(1.5).serialized() == "1.5")
        #expect(JSONValue.double(189.52).serialized() == "189.52")
        #expect(JSONValue.double(2).serialized() == "2.0")
        #expect(JSONValue.double(1e300).serialized() == "1e+300")
        #expect(JSONValue.double(0.1 + 0.2).serialized() == "0.30000000000000004")
        #expect(JSONValue.double(.nan).serialized() == "null")
        #expect(JSONValue.double(-.infinity).serialized() == "null")
    }

    @Test func escapesStrings() {
        let value = JSONValue.string("quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} e\u{301} 😀 /")
        #expect(value.serialized() == #""quote \" backslash \\ newline \n tab \t nul \u0000 bell \u0007 e\#u{301} 😀 /""#)
    }

    @Test(arguments: [
        #"{"symbol":"AAPL","bid":189.52,"size":300,"tags":["a","b"],"ok":true,"note":null}"#,
        #"[0.1,-0.0075,1e-7,123456789012345680000,-9223372036854775808,"\u0001\"\\"]"#,
        #"{"nested":{"deeper":{"deepest":[[],{}]}},"unicode":"héllo 😀"}"#,
    ])
    func roundTrips(text: String) throws {
        let value = try JSONValue(parsing: text)
        let written = value.serialized()
        let reparsed = try JSONValue(parsing: written)
        #expect(reparsed == value)
        #expect(reparsed.serialized() == written)
    }

    @Test func writeAppendsBytes() {
        var bytes = Array("prefix:".utf8)
        let value: JSONValue = ["a": 1]
        value.write(into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == #"prefix:{"a":1}"#)
    }
}
