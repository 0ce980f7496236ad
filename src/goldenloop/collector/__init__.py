"""The OTLP/HTTP trace receiver (`goldenloop collect`): OpenTelemetry SDKs and Collectors send
``POST /v1/traces``; their spans reach the inbox as spool files.

``server`` answers HTTP and keeps each accepted body durably in a journal before its 200;
``journal`` turns accepted bodies into spool files off the request path; ``decode`` reads
bodies into span records through the file import's own mapping.
"""

from goldenloop.collector.decode import BadRequest, records_table, span_records
from goldenloop.collector.server import DEFAULT_PORT, Receiver, serve

__all__ = ["DEFAULT_PORT", "BadRequest", "Receiver", "records_table", "serve", "span_records"]
