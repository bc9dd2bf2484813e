import Foundation
import Switchyard
import Testing

@testable import SwitchyardRedis

/// The spool file on its own: its mode, symbolic links, and a large replay read forward.
@Suite("Redis engine: the spool file")
struct SpoolFileTests {
    static func request(_ n: Int) -> AppendRequest {
        AppendRequest(
            eventID: .generate(), channel: try! ChannelName("test:spool.file"), timestamp: .now(), source: "tests", schema: "test:*@1",
            data: ["n": .int(Int64(n)), "note": .string(String(repeating: "x", count: 200))],
            rules: AppendRules(retention: .seconds(60), dedupWindow: .seconds(300), rateLimit: nil))
    }

    static func temporaryPath(_ name: String) -> String {
        NSTemporaryDirectory() + "switchyard-\(name)-\(UUID().uuidString).spool"
    }

    @Test("a spooled event keeps its live message mode, and a line of an envelope-mode channel is as it was")
    func liveMessageModeSurvivesTheSpool() throws {
        var request = Self.request(1)
        #expect(!Spool.line(request).contains("live_message"))
        request.rules.liveMessage = .payload
        request.rules.payloadAlreadyLive = true
        let back = try #require(Spool.request(from: Data(Spool.line(request).utf8)))
        #expect(back.rules == request.rules)
        #expect(PublishScript.live(back.rules) == "companion")
        request.rules.payloadAlreadyLive = false
        #expect(PublishScript.live(request.rules) == "payload")
        #expect(PublishScript.live(Self.request(2).rules) == "publish")
    }

    @Test("a spooled event keeps an acknowledgement that waits for a replica, and a primary one writes nothing")
    func acknowledgementSurvivesTheSpool() throws {
        var request = Self.request(1)
        #expect(!Spool.line(request).contains("acknowledgement"))
        for acknowledgement in [AppendRules.Acknowledgement.replicated, .replicatedWhereReplicas, .primary] {
            request.rules.acknowledgement = acknowledgement
            let back = try #require(Spool.request(from: Data(Spool.line(request).utf8)))
            #expect(back.rules.acknowledgement == acknowledgement)
        }
    }

    @Test("the spool file is created readable and writable by its owner only, and an existing file is made so")
    func modeIs0600() async throws {
        let path = Self.temporaryPath("mode")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await Spool(configuration: .init(path: path)).append([Self.request(1)])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let existing = Self.temporaryPath("existing")
        defer { try? FileManager.default.removeItem(atPath: existing) }
        #expect(FileManager.default.createFile(atPath: existing, contents: nil, attributes: [.posixPermissions: 0o644]))
        #expect(try await Spool(configuration: .init(path: existing)).depth == 0)
        #expect(try FileManager.default.attributesOfItem(atPath: existing)[.posixPermissions] as? Int == 0o600)
    }

    @Test("a spool file another user owns is refused: it could have been opened to others before", .enabled(if: geteuid() == 0, "needs root to give the file away"))
    func aFileAnotherUserOwnsIsRefused() async throws {
        let path = Self.temporaryPath("foreign")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o666]))
        #expect(chown(path, 65534, 65534) == 0)
        let refused = await #expect(throws: SwitchyardError.self) { try await Spool(configuration: .init(path: path)).append([Self.request(1)]) }
        #expect(refused?.message.contains("another user") == true, "\(String(describing: refused))")
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int == 0, "nothing was written to it")
    }

    @Test("a symbolic link at the spool path is refused with an error naming it, and its target is untouched")
    func symlinkIsRefused() async throws {
        let target = Self.temporaryPath("target")
        let link = Self.temporaryPath("link")
        defer {
            try? FileManager.default.removeItem(atPath: link)
            try? FileManager.default.removeItem(atPath: target)
        }
        try Data("keep\n".utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        let spool = Spool(configuration: .init(path: link))
        let refused = await #expect(throws: SwitchyardError.self) { try await spool.append([Self.request(1)]) }
        #expect(refused?.message.contains("symbolic link") == true && refused?.message.contains(link) == true, "\(refused?.message ?? "")")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "keep\n")
    }

    @Test("a large spool drains in order, each byte read about once")
    func largeSpoolDrainsForward() async throws {
        let path = Self.temporaryPath("large")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let spool = Spool(configuration: .init(path: path))
        let requests = (1...20_000).map(Self.request)
        for start in stride(from: 0, to: requests.count, by: 500) {
            try await spool.append(Array(requests[start..<start + 500]))
        }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        var drained: [EventID] = []
        while true {
            let batch = try await spool.next(limit: 512)
            if batch.requests.isEmpty { break }
            drained += batch.requests.map(\.eventID)
            try await spool.acknowledge(batch)
        }
        #expect(drained == requests.map(\.eventID))
        #expect(try await spool.depth == 0)
        let read = await spool.bytesRead
        #expect(read <= UInt64(2 * size), "read \(read) bytes of a \(size)-byte spool")
    }
}
