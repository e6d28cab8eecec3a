"""A local CloudTrail Data service (``PutAuditEvents``), which moto does not implement.

It speaks the wire protocol of botocore's ``cloudtrail-data`` 2021-08-11 model (REST-JSON), so
the real boto3 client, pointed here with ``endpoints={"cloudtrail-data": fake.url}``, parses it:

* ``POST /PutAuditEvents?channelArn=<arn>[&externalId=<id>]`` with body
  ``{"auditEvents": [{"id", "eventData", "eventDataChecksum"?}, ...]}`` (1 to 100 entries);
* reply 200 ``{"successful": [{"id", "eventID"}], "failed": [{"id", "errorCode",
  "errorMessage"}]}``;
* errors: HTTP status, header ``x-amzn-ErrorType: <code>`` and body ``{"message": "..."}``, with
  the model's codes ``InvalidChannelARN`` (400, not an ARN), ``ChannelNotFound`` (404, no such
  channel), ``ChannelUnsupportedSchema`` (400, ``eventData`` is not a JSON object with the
  integration schema's required fields), ``DuplicatedAuditEventId`` (400, two entries of one
  request share an id) and ``ValidationException`` (400, more than 100 entries or over 1 MB).

``eventDataChecksum`` is checked when given: base64 of SHA-256 of ``eventData``, as the API
reference describes it. An entry whose checksum does not match, and an entry the test told
the fake to reject (:meth:`reject_next`), lands in ``failed``; AWS does not publish its
per-event error codes, so the fake's are its own (``InvalidChecksum``, ``ServiceUnavailable``).

The fake keeps the first copy of each (channel, id) and answers a repeated id as successful
with the first ``eventID``, so a test can assert that a sender's retries never store an event
twice. :meth:`stop` and :meth:`start` close and reopen the same port: an outage.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_EVENTS = 100
MAX_BYTES = 1_000_000
REQUIRED_EVENT_DATA = (
    "version",
    "userIdentity",
    "eventSource",
    "eventName",
    "eventTime",
    "UID",
    "recipientAccountId",
)


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One ingested event as the fake keeps it."""

    channel_arn: str
    id: str
    event_id: str
    event_data: str
    external_id: str

    @property
    def data(self) -> dict[str, Any]:
        """``eventData`` parsed."""
        return dict(json.loads(self.event_data))


class CloudTrailDataFake:
    """The fake service: a thread serving HTTP on 127.0.0.1 (port 0 picks one, kept on restart)."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.channels: set[str] = set()
        self.events: list[StoredEvent] = []
        self.requests = 0  # PutAuditEvents requests answered 200
        self._by_id: dict[tuple[str, str], StoredEvent] = {}
        self._reject: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The endpoint URL for the boto3 ``cloudtrail-data`` client."""
        return f"http://127.0.0.1:{self.port}"

    def add_channel(self, account: str = "123456789012", region: str = "us-east-1") -> str:
        """Create a channel and return its ARN."""
        arn = f"arn:aws:cloudtrail:{region}:{account}:channel/{uuid.uuid4()}"
        self.channels.add(arn)
        return arn

    def reject_next(self, ids: list[str], times: int = 1) -> None:
        """Put these ids in ``failed`` for their next ``times`` deliveries."""
        with self._lock:
            for item in ids:
                self._reject[item] = times

    def stored(self, channel_arn: str) -> list[StoredEvent]:
        """The events of one channel, in ingestion order."""
        with self._lock:
            return [e for e in self.events if e.channel_arn == channel_arn]

    def start(self) -> CloudTrailDataFake:
        """Serve (again, on the same port after :meth:`stop`)."""
        handler = type("Handler", (_Handler,), {"fake": self})
        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering; the port is refused until :meth:`start` (stored events are kept)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    # ------------------------------------------------------------------ the operation

    def put_audit_events(self, query: str, body: bytes) -> dict[str, Any]:
        """``PutAuditEvents``; raises :class:`_Refused` for a whole-request error."""
        params = parse_qs(query, keep_blank_values=True)
        channel = params.get("channelArn", [""])[0]
        external_id = params.get("externalId", [""])[0]
        if not channel.startswith("arn:") or ":channel/" not in channel:
            raise _Refused(400, "InvalidChannelARN", f"The channel ARN {channel} is not valid.")
        if channel not in self.channels:
            raise _Refused(404, "ChannelNotFound", f"The channel {channel} was not found.")
        if len(body) > MAX_BYTES:
            raise _Refused(400, "ValidationException", "The request is larger than 1 MB.")
        try:
            entries = json.loads(body)["auditEvents"]
        except (ValueError, KeyError, TypeError):
            raise _Refused(400, "ValidationException", "auditEvents is required.") from None
        if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_EVENTS:
            raise _Refused(
                400, "ValidationException", "auditEvents must hold between 1 and 100 events."
            )
        ids = [str(entry.get("id", "")) for entry in entries]
        if len(set(ids)) != len(ids):
            raise _Refused(
                400, "DuplicatedAuditEventId", "Two or more entries in the request share an id."
            )
        for entry in entries:
            _check_schema(entry.get("eventData"))
        successful: list[dict[str, str]] = []
        failed: list[dict[str, str]] = []
        with self._lock:
            for entry, item in zip(entries, ids, strict=True):
                data = str(entry["eventData"])
                checksum = entry.get("eventDataChecksum")
                expected = base64.b64encode(hashlib.sha256(data.encode()).digest()).decode()
                if checksum is not None and checksum != expected:
                    failed.append(_failure(item, "InvalidChecksum", "eventDataChecksum differs."))
                    continue
                if self._reject.get(item, 0) > 0:
                    self._reject[item] -= 1
                    failed.append(_failure(item, "ServiceUnavailable", "Try again later."))
                    continue
                kept = self._by_id.get((channel, item))
                if kept is None:
                    kept = StoredEvent(channel, item, str(uuid.uuid4()), data, external_id)
                    self._by_id[(channel, item)] = kept
                    self.events.append(kept)
                successful.append({"id": item, "eventID": kept.event_id})
            self.requests += 1
        return {"successful": successful, "failed": failed}


def _failure(item: str, code: str, message: str) -> dict[str, str]:
    return {"id": item, "errorCode": code, "errorMessage": message}


def _check_schema(data: object) -> None:
    """The integration schema's required ``eventData`` fields (CloudTrail Lake user guide)."""
    try:
        parsed = json.loads(data) if isinstance(data, str) else None
    except ValueError:
        parsed = None
    missing = [] if isinstance(parsed, dict) else list(REQUIRED_EVENT_DATA)
    if isinstance(parsed, dict):
        missing = [name for name in REQUIRED_EVENT_DATA if name not in parsed]
        identity = parsed.get("userIdentity")
        if not isinstance(identity, dict) or not {"type", "principalId"} <= identity.keys():
            missing.append("userIdentity.type/principalId")
    if missing:
        raise _Refused(
            400,
            "ChannelUnsupportedSchema",
            f"The eventData does not match the channel's schema (missing {', '.join(missing)}).",
        )


class _Handler(BaseHTTPRequestHandler):
    fake: CloudTrailDataFake

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if url.path != "/PutAuditEvents":
            self._reply(404, {"message": f"No operation at {url.path}."}, "UnknownOperation")
            return
        try:
            self._reply(200, self.fake.put_audit_events(url.query, body))
        except _Refused as exc:
            self._reply(exc.status, {"message": exc.message}, exc.code)

    def _reply(self, status: int, payload: dict[str, Any], error: str = "") -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if error:
            self.send_header("x-amzn-ErrorType", error)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        """Quiet: tests read assertions, not access logs."""
