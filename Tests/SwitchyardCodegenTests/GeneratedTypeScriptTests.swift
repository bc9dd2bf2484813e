import Foundation
import JSONSchema
import RedisTestSupport
import Switchyard
import SwitchyardCodegen
import Testing

/// The generated declarations, checked with `tsc --noEmit --strict` (`SWITCHYARD_TSC`, Debian's
/// node-typescript).
@Suite("Generated TypeScript declarations", .needs(.typescript))
struct GeneratedTypeScriptTests {
    let tsc = ProcessInfo.processInfo.environment["SWITCHYARD_TSC"] ?? "/usr/bin/tsc"

    func check(_ contracts: [CodegenContract], files: [String: String]) async throws -> (status: Int32, output: String) {
        let folder = try temporaryFolder("typescript")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (file, _) = try Codegen.generate(.typescript, contracts: contracts)
        try Data(file.contents.utf8).write(to: folder.appendingPathComponent(file.name))
        for (name, text) in files { try Data(text.utf8).write(to: folder.appendingPathComponent(name)) }
        return try await runTool(
            tsc, ["--noEmit", "--strict", "--target", "es2020", "--moduleResolution", "node", file.name] + files.keys.sorted(), in: folder)
    }

    /// A channel a pattern matches: its glob characters replaced by letters.
    static func channel(matching pattern: String) -> String {
        pattern.replacingOccurrences(of: "*", with: "x1").replacingOccurrences(of: "?", with: "x")
    }

    static let equals = "type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;\n"

    @Test("every shipped contract's valid examples have its payload type, found by channel through ChannelPayloads and PayloadFor")
    func shippedExamplesTypeCheck() async throws {
        let registry = try ContractRegistry.shipped()
        var use = "import type { ChannelPayloads, PayloadFor, PriceUpdateEvent, Trades, TradesOrderFilled } from \"./switchyard-contracts\";\n"
        use += Self.equals
        var count = 0
        for contract in registry.contracts {
            for example in contract.validExamples {
                let name = contract.channel.rawValue
                let type = contract.channel.isLiteral ? "ChannelPayloads[\"\(name)\"]" : "PayloadFor<\"\(Self.channel(matching: name))\">"
                use += "export const example\(count): \(type) = \(example.serialized());\n"
                count += 1
            }
        }
        // Resolution: a channel's own contract first, then the pattern with the longest literal prefix.
        use += """
            export const own: Equals<PayloadFor<"trades:order_filled">, TradesOrderFilled> = true;
            export const family: Equals<PayloadFor<"trades:user_0001">, Trades> = true;
            export const longest: Equals<PayloadFor<"price.updated.AAPL">, PriceUpdateEvent> = true;
            export const none: Equals<PayloadFor<"nowhere">, unknown> = true;
            export function handle<C extends keyof ChannelPayloads>(channel: C, payload: ChannelPayloads[C]): string {
              return channel + JSON.stringify(payload);
            }
            handle("trades:order_filled", { order_id: "ord_1", filled_quantity: 1 });

            """
        #expect(count > registry.contracts.count)
        let (status, output) = try await check(
            try CodegenContract.load(directory: packageRoot.appendingPathComponent("contracts").path), files: ["use.ts": use])
        #expect(status == 0, "\(output)")
    }

    @Test("tsc refuses payloads of the wrong shape: a wrong type, an enum value not listed, a missing member")
    func wrongShapesAreRefused() async throws {
        let bad = """
            import type { ChannelPayloads } from "./switchyard-contracts";
            export const a: ChannelPayloads["trades:order_filled"] = { order_id: 1 };
            export const b: ChannelPayloads["positions.updated"] = { timestamp: "t", symbol: "AAPL", action: "hold", qty_change: 1, new_qty: 1, price: "1", strategy_id: "s" };
            export const c: ChannelPayloads["positions.updated"] = { timestamp: "t", symbol: "AAPL", action: "buy", qty_change: 1, new_qty: 1, price: "1" };
            export const d: ChannelPayloads["no:such_channel"] = {};

            """
        let (status, output) = try await check(
            try CodegenContract.load(directory: packageRoot.appendingPathComponent("contracts").path), files: ["bad.ts": bad])
        #expect(status != 0)
        for line in 2...5 { #expect(output.contains("bad.ts(\(line),"), "line \(line): \(output)") }
    }

    @Test("the edge contracts' declarations type-check, with every kind of member")
    func edgeTypeChecks() async throws {
        var use = "import type { ChannelPayloads, ChannelPatternPayloads, EdgeKinds, PayloadFor, Edge } from \"./switchyard-contracts\";\n"
        use += Self.equals
        use += "export const kinds: ChannelPayloads[\"edge:kinds\"] = \(EdgeContracts.kindsPayload.serialized());\n"
        use += """
            export const opaque: ChannelPayloads["edge:opaque"] = { anything: [1] };
            export const pattern: Equals<PayloadFor<"edge.x.y">, Edge> = true;
            export const byPattern: ChannelPatternPayloads["edge.*"] = { n: 1 };
            export const side: EdgeKinds["side"][] = ["buy", "partial_fill", "price.updated", "2x", "default", "Buy"];

            """
        let (status, output) = try await check(EdgeContracts.contracts, files: ["use.ts": use])
        #expect(status == 0, "\(output)")
    }
}
