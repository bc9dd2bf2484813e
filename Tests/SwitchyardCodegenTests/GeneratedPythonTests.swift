import Foundation
import JSONSchema
import RedisTestSupport
import Switchyard
import SwitchyardCodegen
import Testing

/// The generated Python module, type-checked with `mypy --strict` and run, with the test virtualenv's
/// Python (`SWITCHYARD_PYTHON`, which has mypy and jsonschema).
@Suite("Generated Python payload classes", .needs(.python))
struct GeneratedPythonTests {
    let python = ProcessInfo.processInfo.environment["SWITCHYARD_PYTHON"] ?? "python3"

    /// Writes the module for `contracts` and the files given into a new folder.
    func folder(_ contracts: [CodegenContract], files: [String: String]) throws -> URL {
        let folder = try temporaryFolder("python")
        let (file, _) = try Codegen.generate(.python, contracts: contracts)
        try Data(file.contents.utf8).write(to: folder.appendingPathComponent(file.name))
        for (name, text) in files { try Data(text.utf8).write(to: folder.appendingPathComponent(name)) }
        return folder
    }

    func mypy(_ folder: URL, _ files: [String]) async throws -> (status: Int32, output: String) {
        try await runTool(
            python, ["-m", "mypy", "--strict", "--no-incremental", "--python-version", "3.11"] + files, in: folder,
            environment: ["MYPYPATH": folder.path])
    }

    static let shippedUse = #"""
        from typing import Any

        from switchyard_contracts import PAYLOAD_TYPES, PositionEvent, PriceUpdateEvent, Trades, TradesOrderFilled

        filled = TradesOrderFilled(order_id="ord_1", filled_quantity=10, filled_price=0.65)
        payload: dict[str, Any] = filled.to_payload()
        channel: str = TradesOrderFilled.SWITCHYARD_CHANNEL
        version: int = TradesOrderFilled.SWITCHYARD_VERSION
        again: TradesOrderFilled = TradesOrderFilled.from_payload(payload)
        position = PositionEvent(
            timestamp="2026-01-20T14:30:15+00:00", symbol="AAPL", action="partial_fill", qty_change=-1, new_qty=9, price="150.25",
            strategy_id="alpha",
        )
        quotes = [PriceUpdateEvent(symbol="AAPL", price="150.25", timestamp="t"), PriceUpdateEvent(symbol="AAPL", price=150, timestamp="t")]
        pattern: str = Trades.SWITCHYARD_CHANNEL
        classes: dict[str, type[Any]] = PAYLOAD_TYPES
        """#

    @Test("mypy --strict accepts the module generated from every shipped contract, and code that uses it")
    func shippedTypeChecks() async throws {
        let contracts = try CodegenContract.load(directory: packageRoot.appendingPathComponent("contracts").path)
        let folder = try folder(contracts, files: ["use.py": Self.shippedUse])
        defer { try? FileManager.default.removeItem(at: folder) }
        let (status, output) = try await mypy(folder, ["switchyard_contracts.py", "use.py"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("Success: no issues found in 2 source files"), "\(output)")
    }

    @Test("mypy --strict refuses a payload of the wrong shape: a wrong type, an enum value not listed, a missing member")
    func wrongShapesAreRefused() async throws {
        let bad = #"""
            from switchyard_contracts import PositionEvent, TradesOrderFilled

            a = TradesOrderFilled(order_id=1)
            b = PositionEvent(timestamp="t", symbol="AAPL", action="hold", qty_change=1, new_qty=1, price="1", strategy_id="s")
            c = PositionEvent(timestamp="t", symbol="AAPL", action="buy", qty_change=1, new_qty=1, price="1")
            d = TradesOrderFilled(order_id="o", unknown_member=1)
            """#
        let contracts = try CodegenContract.load(directory: packageRoot.appendingPathComponent("contracts").path)
        let folder = try folder(contracts, files: ["bad.py": bad])
        defer { try? FileManager.default.removeItem(at: folder) }
        let (status, output) = try await mypy(folder, ["bad.py"])
        #expect(status == 1)
        for line in 3...6 { #expect(output.contains("bad.py:\(line): error:"), "line \(line): \(output)") }
    }

    @Test("every valid example survives from_payload and to_payload, and the result satisfies its contract")
    func shippedRoundTrip() async throws {
        let registry = try ContractRegistry.shipped()
        var cases: [JSONValue] = []
        for contract in registry.contracts {
            for example in contract.validExamples { cases.append(["channel": .string(contract.channel.rawValue), "payload": example]) }
        }
        let script = #"""
            import json
            import sys

            from switchyard_contracts import PAYLOAD_TYPES

            results = []
            for case in json.load(open(sys.argv[1])):
                cls = PAYLOAD_TYPES[case["channel"]]
                assert cls.SWITCHYARD_CHANNEL == case["channel"]
                value = cls.from_payload(case["payload"])
                assert cls.from_payload(value.to_payload()) == value
                results.append(value.to_payload())
            json.dump(results, sys.stdout)
            """#
        let contracts = try CodegenContract.load(directory: packageRoot.appendingPathComponent("contracts").path)
        let folder = try folder(contracts, files: ["roundtrip.py": script, "cases.json": JSONValue.array(cases).serialized()])
        defer { try? FileManager.default.removeItem(at: folder) }
        let (status, output) = try await runTool(python, ["roundtrip.py", "cases.json"], in: folder)
        try #require(status == 0, "\(output)")
        let results = try #require(try JSONValue(parsing: output).arrayValue)
        #expect(results.count == cases.count)
        var unchanged = 0
        for (item, result) in zip(cases, results) {
            let contract = try #require(registry.contracts.first { $0.channel.rawValue == item["channel"]?.stringValue })
            try contract.validate(result)
            let example = item["payload"]!
            if GeneratedSwiftTests.declaresEveryMember(example, schema: contract.schema) {
                #expect(result == example, "\(contract.channel)")
                unchanged += 1
            }
        }
        #expect(unchanged >= registry.contracts.count / 2)
    }

    @Test("the Python client publishes a generated class: mypy --strict checks the call, and Redis stores its payload", .needs(.redis))
    func clientPublishesAGeneratedClass() async throws {
        let script = #"""
            import json
            import sys

            from switchyard import Receipt, Switchyard
            from switchyard_contracts import SignalEvent

            sy = Switchyard.from_url(sys.argv[1], source="signal_service", contracts=sys.argv[2])
            signal = SignalEvent(timestamp="2025-01-17T09:00:00+00:00", strategy_id="alpha_baseline", symbols=["AAPL", "MSFT"],
                                 num_signals=12, as_of_date="2025-01-17")
            receipt: Receipt = sy.publish(signal)
            stored = sy.replay(SignalEvent.SWITCHYARD_CHANNEL, since=receipt.sequence_number)[0]
            print(json.dumps({"channel": stored.channel, "data": stored.data, "event_id": stored.event_id == receipt.event_id}))
            """#
        let contracts = try CodegenContract.load(directory: packageRoot.appendingPathComponent("contracts").path)
        let folder = try folder(contracts, files: ["publish.py": script])
        defer { try? FileManager.default.removeItem(at: folder) }
        let client = packageRoot.appendingPathComponent("clients/python").path
        let checked = try await runTool(
            python, ["-m", "mypy", "--strict", "--no-incremental", "switchyard_contracts.py", "publish.py"], in: folder,
            environment: ["MYPYPATH": "\(folder.path):\(client)"])
        #expect(checked.status == 0, "\(checked.output)")
        let (status, output) = try await runTool(
            python, ["publish.py", try TestEnvironment.value("REDIS_URL"), packageRoot.appendingPathComponent("contracts").path], in: folder)
        try #require(status == 0, "\(output)")
        let stored = try JSONValue(parsing: output)
        #expect(stored["channel"] == "signals.generated" && stored["event_id"] == true)
        #expect(stored["data"]?["num_signals"] == 12 && stored["data"]?["symbols"] == ["AAPL", "MSFT"])
    }

    @Test("the edge contracts' module passes mypy --strict and carries every kind of member through a round trip")
    func edgeRoundTrip() async throws {
        let use = #"""
            import json
            import sys
            from typing import Any

            from switchyard_contracts import Edge, EdgeKinds, EdgeKindsNested, EdgeOpaque, SystemHealthOPA

            def main() -> None:
                data: dict[str, Any] = json.load(sys.stdin)
                value = EdgeKinds.from_payload(data)
                assert value.class_ == "c" and value.self_ == 1.5 and value.order_id == "o" and value._2fa is True
                assert isinstance(value.nested, EdgeKindsNested) and value.nested.inner is not None
                assert value.fills is not None and value.fills[1].note is None
                assert EdgeKinds.from_payload(value.to_payload()) == value
                assert Edge(n=1).to_payload() == {"n": 1} and Edge.SWITCHYARD_CHANNEL == "edge.*"
                assert EdgeOpaque(members={"k": 1}).to_payload() == {"k": 1}
                assert SystemHealthOPA().to_payload() == {}
                json.dump(value.to_payload(), sys.stdout)

            main()
            """#
        let folder = try folder(EdgeContracts.contracts, files: ["use.py": use])
        defer { try? FileManager.default.removeItem(at: folder) }
        let (status, output) = try await mypy(folder, ["switchyard_contracts.py", "use.py"])
        #expect(status == 0, "\(output)")
        let input = folder.appendingPathComponent("input.json")
        try Data(EdgeContracts.kindsPayload.serialized().utf8).write(to: input)
        let (runStatus, runOutput) = try await runTool("/bin/sh", ["-c", "\"$0\" use.py < input.json", python], in: folder)
        try #require(runStatus == 0, "\(runOutput)")
        var expected = EdgeContracts.kindsPayload.objectValue!
        // Only a required member that is null is written as null; an optional one that is None is left out.
        var fills = expected["fills"]!.arrayValue!
        fills[0] = ["qty": 1]
        expected["fills"] = .array(fills)
        #expect(try JSONValue(parsing: runOutput) == .object(expected))
    }
}
