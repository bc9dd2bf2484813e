#!/usr/bin/env python3
"""A small OpenTelemetry collector for tests: receives OTLP/HTTP (protobuf) traces and metrics and
writes what it got as JSON lines.

    otlp-receiver.py --port 4318 --out received.jsonl

Each span becomes {"signal":"span","service","name","trace_id","span_id","parent_span_id","kind","attributes"}
and each metric {"signal":"metric","service","name"} (ids in lowercase hex). It answers every
export with an empty success response, as a collector does, and 404 for any other path. Decoding
uses the OpenTelemetry project's own message definitions (`opentelemetry-proto` from PyPI), so a
request that does not follow the protocol fails here, as it would in a real collector.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (  # type: ignore[import-untyped]
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (  # type: ignore[import-untyped]
    ExportTraceServiceRequest, ExportTraceServiceResponse,
)

LOCK = threading.Lock()


def value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def service_of(resource: Any) -> str:
    for attribute in resource.attributes:
        if attribute.key == "service.name":
            return str(value(attribute.value))
    return ""


class Receiver(BaseHTTPRequestHandler):
    out = ""

    def do_POST(self) -> None:  # noqa: N802 - the http.server protocol
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        records: list[dict[str, Any]] = []
        if self.path == "/v1/traces":
            request = ExportTraceServiceRequest.FromString(body)
            for resource_spans in request.resource_spans:
                service = service_of(resource_spans.resource)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        records.append({
                            "signal": "span", "service": service, "name": span.name, "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(), "parent_span_id": span.parent_span_id.hex(), "kind": span.kind,
                            "attributes": {a.key: value(a.value) for a in span.attributes},
                        })
            reply = ExportTraceServiceResponse().SerializeToString()
        elif self.path == "/v1/metrics":
            metrics_request = ExportMetricsServiceRequest.FromString(body)
            for resource_metrics in metrics_request.resource_metrics:
                service = service_of(resource_metrics.resource)
                for scope_metrics in resource_metrics.scope_metrics:
                    for metric in scope_metrics.metrics:
                        records.append({"signal": "metric", "service": service, "name": metric.name})
            reply = ExportMetricsServiceResponse().SerializeToString()
        else:
            self.send_response(404)
            self.end_headers()
            return
        with LOCK, open(self.out, "a", encoding="utf-8") as file:
            for record in records:
                file.write(json.dumps(record) + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *_: Any) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    arguments = parser.parse_args()
    Receiver.out = arguments.out
    server = ThreadingHTTPServer(("127.0.0.1", arguments.port), Receiver)
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
