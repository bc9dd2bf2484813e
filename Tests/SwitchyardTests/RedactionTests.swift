import Switchyard
import Testing

@Suite struct RedactionTests {
    @Test("URLs keep scheme, user, host, path and harmless parameters; passwords and tokens are masked")
    func urls() {
        #expect(Redaction.url("redis://user:s3cret@cache:6379/2") == "redis://user:***@cache:6379/2")
        #expect(Redaction.url("rediss://:s3cret@cache") == "rediss://:***@cache")
        #expect(Redaction.url("postgres://writer:p%40ss@db/sy?sslmode=require") == "postgres://writer:***@db/sy?sslmode=require")
        #expect(Redaction.url("https://tok123@example.com/x") == "https://***@example.com/x")
        #expect(Redaction.url("ws://gw/v1/ws?channel=a&token=eyJ.abc.def&x=1") == "ws://gw/v1/ws?channel=a&token=***&x=1")
        #expect(Redaction.url("http://gw/v1?API_KEY=k1") == "http://gw/v1?API_KEY=***")
        #expect(Redaction.url("redis://cache:6379") == "redis://cache:6379")
        #expect(
            Redaction.url("redis+sentinel://app:s3cret@10.0.0.1:26379,10.0.0.2:26379/trading?sentinel_password=w4tch")
                == "redis+sentinel://app:***@10.0.0.1:26379,10.0.0.2:26379/trading?sentinel_password=***")
    }

    @Test("free text: every URL, secret parameter and credential header is masked")
    func text() {
        let line = #"connect redis://u:pw1@h:1 failed; GET /v1/ws?token=jwt.x.y; Authorization: Bearer abc.def password=hunter2"#
        let redacted = Redaction.text(line)
        for secret in ["pw1", "jwt.x.y", "abc.def", "hunter2"] { #expect(!redacted.contains(secret), "\(redacted)") }
        #expect(redacted.contains("redis://u:***@h:1") && redacted.contains("token=***") && redacted.contains("Bearer ***"))
        #expect(Redaction.text("bearer tok") == "bearer ***")
        #expect(Redaction.text("no secrets here: channel=trades:fill") == "no secrets here: channel=trades:fill")
        #expect(Redaction.header(name: "Authorization", value: "Bearer x") == "***")
        #expect(Redaction.header(name: "Accept", value: "text/plain") == "text/plain")
    }
}
