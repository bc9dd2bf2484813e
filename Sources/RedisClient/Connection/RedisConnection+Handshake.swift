import NIOCore
import RESP

extension RedisConnection {
    /// `HELLO 3` with `AUTH` and `SETNAME`; on a server without `HELLO`, RESP2's `AUTH` and
    /// `CLIENT SETNAME`. Then `SELECT` when the database is not 0.
    func handshake() async throws {
        let configuration = self.configuration
        var needsRESP2 = configuration.protocolVersion == .resp2
        if !needsRESP2 {
            var encoder = self.makeEncoder()
            var count = 2
            if configuration.password != nil { count += 3 }
            if configuration.clientName != nil { count += 2 }
            encoder.encodeArrayHeader(count: count)
            encoder.encodeBulk("HELLO")
            encoder.encodeBulk(3)
            if let password = configuration.password {
                encoder.encodeBulk("AUTH")
                encoder.encodeBulk(configuration.username ?? "default")
                encoder.encodeBulk(password)
            }
            if let name = configuration.clientName {
                encoder.encodeBulk("SETNAME")
                encoder.encodeBulk(name)
            }
            let reply = try await self.send(encoder.finish(), deadline: self.deadline(blocking: nil))
            if let message = reply.errorMessage {
                let prefix = message.split(separator: " ").first ?? ""
                if prefix == "NOPROTO" || message.lowercased().contains("unknown command") {
                    needsRESP2 = true
                } else {
                    throw RedisError(.authenticationFailed, serverMessage: message)
                }
            } else {
                self.setProtocolVersion(3)
            }
        }
        if needsRESP2 {
            if let password = configuration.password {
                var encoder = self.makeEncoder()
                if let username = configuration.username {
                    encoder.encode("AUTH", username, password)
                } else {
                    encoder.encode("AUTH", password)
                }
                try await self.expectOK(encoder.finish(), authentication: true)
            }
            if let name = configuration.clientName {
                var encoder = self.makeEncoder()
                encoder.encode("CLIENT", "SETNAME", name)
                try await self.expectOK(encoder.finish(), authentication: false)
            }
        }
        if configuration.database != 0 {
            var encoder = self.makeEncoder()
            encoder.encode("SELECT", configuration.database)
            try await self.expectOK(encoder.finish(), authentication: false)
        }
    }

    private func expectOK(_ request: RESPEncodedRequest, authentication: Bool) async throws {
        let reply = try await self.send(request, deadline: self.deadline(blocking: nil))
        if let message = reply.errorMessage {
            throw RedisError(authentication ? .authenticationFailed : .serverError, serverMessage: message)
        }
    }
}
