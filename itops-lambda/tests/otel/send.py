"""Sends a shop's telemetry to itops serve with the official OpenTelemetry Python SDK and
its OTLP/HTTP exporter: 30 minutes of traces (frontend -> checkout -> payments) in which
payments turns slow and failing for the last five, error logs from payments, and a few
metrics. Usage: send.py URL TOKEN. Prints what it sent as JSON."""

import json
import logging
import sys
import time

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

url, token = sys.argv[1], sys.argv[2]
headers = {"Authorization": f"Bearer {token}"}
now = time.time_ns()
minute = 60 * 10**9
sent = {"spans": 0, "logs": 0}


def tracer_for(service):
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    # Gzip on one exporter, plain protobuf on the others.
    compression = Compression.Gzip if service == "checkout" else Compression.NoCompression
    exporter = OTLPSpanExporter(
        endpoint=f"{url}/v1/traces", headers=headers, compression=compression
    )
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=256))
    return provider, provider.get_tracer("shop")


providers = {s: tracer_for(s) for s in ("frontend", "checkout", "payments")}

# A request every 2 s for 30 minutes; payments slow and failing in the last five.
for i in range(900):
    start = now - 30 * minute + i * 2 * 10**9
    broken = start >= now - 5 * minute
    pay_ms = 900 if broken else 20 + (i % 7)
    front = providers["frontend"][1].start_span("GET /checkout", kind=SpanKind.SERVER, start_time=start)
    check = providers["checkout"][1].start_span(
        "PlaceOrder", context=set_span_in_context(front), kind=SpanKind.SERVER, start_time=start + 10**6
    )
    pay = providers["payments"][1].start_span(
        "Charge", context=set_span_in_context(check), kind=SpanKind.SERVER, start_time=start + 2 * 10**6
    )
    if broken and i % 2 == 0:
        pay.set_status(Status(StatusCode.ERROR, "card processor timeout"))
    pay.end(end_time=start + 2 * 10**6 + pay_ms * 10**6)
    check.end(end_time=start + 4 * 10**6 + pay_ms * 10**6)
    front.end(end_time=start + 6 * 10**6 + pay_ms * 10**6)
    sent["spans"] += 3

for provider, _ in providers.values():
    provider.force_flush()
    provider.shutdown()

# Error logs from payments, through the standard logging module.
log_provider = LoggerProvider(resource=Resource.create({"service.name": "payments"}))
log_provider.add_log_record_processor(
    BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{url}/v1/logs", headers=headers))
)
logger = logging.getLogger("payments")
logger.propagate = False
logger.addHandler(LoggingHandler(logger_provider=log_provider))
logger.setLevel(logging.INFO)
for i in range(20):
    logger.error("card processor timeout after 900 ms (attempt %d)", i)
    sent["logs"] += 1
log_provider.force_flush()
log_provider.shutdown()

# A counter and a gauge-like up-down counter from checkout.
reader = PeriodicExportingMetricReader(
    OTLPMetricExporter(endpoint=f"{url}/v1/metrics", headers=headers),
    export_interval_millis=60_000,
)
meter_provider = MeterProvider(
    resource=Resource.create({"service.name": "checkout"}), metric_readers=[reader]
)
meter = meter_provider.get_meter("shop")
orders = meter.create_counter("orders_placed")
orders.add(42)
queue = meter.create_up_down_counter("order_queue_depth")
queue.add(7)
meter_provider.force_flush()
meter_provider.shutdown()

print(json.dumps(sent))
