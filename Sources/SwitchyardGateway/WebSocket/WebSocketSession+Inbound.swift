import HummingbirdWebSocket
import JSONSchema
import Switchyard

extension WebSocketSession {
    /// Reads messages until the client closes; each is handled before the next is read.
    func read(_ inbound: WebSocketInboundStream) async {
        let limit = configuration.webSocket.maxInboundMessageBytes
        var iterator = inbound.makeAsyncIterator()
        var message: [UInt8] = []
        var isText = true
        var oversized = false
        var fragmented = false
        do {
            while let frame = try await iterator.next() {
                switch frame.opcode {
                case .text, .binary:
                    // RFC 6455 5.4: a new message may not start inside a fragmented one.
                    guard !fragmented else {
                        finish(code: Self.protocolError, reason: "a new message started before the fragmented one ended")
                        return
                    }
                    message.removeAll(keepingCapacity: true)
                    isText = frame.opcode == .text
                    oversized = false
                default:
                    guard fragmented else {
                        finish(code: Self.protocolError, reason: "a continuation frame without a message to continue")
                        return
                    }
                }
                fragmented = !frame.fin
                if !oversized {
                    if message.count + frame.data.readableBytes > limit {
                        oversized = true
                        message = []
                    } else {
                        message.append(contentsOf: frame.data.readableBytesView)
                    }
                }
                guard frame.fin else { continue }
                if oversized {
                    send(ServerFrame.error(SwitchyardError(
                        .payloadTooLarge, "the message is larger than the \(limit) bytes this connection accepts",
                        details: ["max_message_bytes": .int(Int64(limit))]), id: nil))
                } else if !isText {
                    send(ServerFrame.error(SwitchyardError(.badRequest, "frames must be JSON text frames"), id: nil))
                } else {
                    await handle(message)
                }
            }
        } catch {
            logger.debug("a WebSocket connection ended", metadata: ["error": "\(error)"])
        }
    }

    private func handle(_ message: [UInt8]) async {
        let document: JSONValue
        do {
            document = try JSONValue(parsing: message)
        } catch {
            send(ServerFrame.error(SwitchyardError(.malformedJSON, "the frame is not valid JSON: \(error)"), id: nil))
            return
        }
        let id = ClientFrame.id(in: document)
        do {
            switch try ClientFrame(parsing: document) {
            case .subscribe(let patterns, let resume, let id):
                let refused = patterns.filter { pattern in !grants.subscribe.contains { $0.mayOverlap(pattern) } }
                guard refused.isEmpty else {
                    throw SwitchyardError(
                        .forbidden, "no read grant covers these patterns",
                        details: ["patterns": .array(refused.map { .string($0.rawValue) })])
                }
                let unreadable = resume.keys.filter { !grants.mayRead($0) }.sorted()
                guard unreadable.isEmpty else {
                    throw SwitchyardError(
                        .forbidden, "no read grant covers these resumed channels",
                        details: ["channels": .array(unreadable.map { .string($0.rawValue) })])
                }
                input.yield(.change(.add(patterns, resume: resume, id: id)))
            case .unsubscribe(let patterns, let id):
                input.yield(.change(.remove(patterns, id: id)))
            case .publish(let channel, let data, let metadata, let eventID, let id):
                guard grants.mayPublish(to: channel) else {
                    let error = SwitchyardError(.forbidden, "no publish grant covers '\(channel)'", details: ["channel": .string(channel.rawValue)])
                    router.auditRefusal(error, channel: channel, who: publishSource ?? "anonymous", eventID: eventID)
                    throw error
                }
                let checked: CheckedPayload
                do {
                    checked = try PayloadGuard(registry: router.contracts, allowsUnknownChannels: router.configuration.allowsUnknownChannels)
                        .check(channel: channel, payload: data)
                } catch {
                    router.countRefusedPublish(error, channel: channel, source: publishSource)
                    throw error
                }
                let receipt = try await publisher.publish(
                    PublishRequest(channel: channel, payload: checked.publishable, metadata: metadata, eventID: eventID, source: publishSource))
                send(ServerFrame.published(receipt, id: id))
            }
        } catch let error as SwitchyardError {
            send(ServerFrame.error(error, id: id))
        } catch {
            send(ServerFrame.error(SwitchyardError(.internalError, "the gateway failed to handle the frame"), id: id))
        }
    }
}
