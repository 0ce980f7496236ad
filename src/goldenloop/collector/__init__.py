"""The OTLP/HTTP trace receiver (`goldenloop collect`): OpenTelemetry SDKs and Collectors send
``POST /v1/traces``; their spans reach the inbox as spool files.

``server`` answers HTTP within its bounds; ``http_body`` reads a body however it is framed;
``decode`` parses it and maps each span through the file import's own mapping and check;
``journal`` keeps the accepted spans durably before the 200 and turns them into spool files
off the request path.
"""

from goldenloop.collector.decode import BadRequest, records_table, span_records
from goldenloop.collector.server import DEFAULT_PORT, Receiver, serve

__all__ = ["DEFAULT_PORT", "BadRequest", "Receiver", "records_table", "serve", "span_records"]
