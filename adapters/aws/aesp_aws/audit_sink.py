"""The AuditSink port on AWS: every audit event into a CloudTrail Lake channel.

The shipper (:class:`aesp.core.audit_shipper.AuditShipper`, named ``cloudtrail``) reads the
Host's durable log and hands batches here, off the call path; while CloudTrail is unreachable
the events wait in the log, so an outage loses none (DESIGN §2 principle 2).

Each event becomes one ``cloudtrail-data`` ``PutAuditEvents`` entry:

* ``id``: the event id (the API allows ``[-_A-Za-z0-9]``, at most 128 characters; other ids
  are sent as ``sha256-<hex of the id>``), so a retried entry names the same event;
* ``eventData``: the CloudTrail Lake integration schema (``version``, ``userIdentity``,
  ``eventSource``, ``eventName``, ``eventTime``, ``UID``, ``recipientAccountId``), with the whole
  sealed event (its C-35 ``prev_hash`` and ``hash`` included) under ``additionalEventData``
  so an auditor can match a CloudTrail record to its leaf in the verifiable log;
* ``eventDataChecksum``: base64 SHA-256 of ``eventData``, so CloudTrail refuses a damaged entry.

Requests hold at most 100 entries and stay under the API's 1 MB. Entries CloudTrail lists in
``failed`` are sent again (a few times, at once); if some still fail, :meth:`ship` raises and
the shipper retries the whole batch later. Ids CloudTrail acknowledged are remembered (the
last :data:`REMEMBER` of them), so that retry re-sends only what is missing: CloudTrail does not
promise to drop a repeated id, and a duplicate in the trail is what an audit must not show.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aesp.core.audit import AuditEvent
from aesp.core.errors import AespError
from aesp_aws._aws import Aws, error_code, unreachable

__all__ = ["CloudTrailLakeSink"]

MAX_EVENTS = 100  # PutAuditEvents' limit per request (botocore model: AuditEvents max 100)
MAX_REQUEST_BYTES = 900_000  # under the documented 1 MB per request, leaving room for framing
ATTEMPTS = 3  # sends of the entries CloudTrail lists as failed, within one ship()
REMEMBER = 100_000  # acknowledged ids kept to skip on a re-sent batch
EVENT_SOURCE = "aesp.control-plane"
SCHEMA_VERSION = "1.0"
_ID = re.compile(r"^[-_A-Za-z0-9]{1,128}$")
_ACCOUNT = re.compile(r"^arn:[^:]+:cloudtrail:[^:]*:(\d{12}):channel/.+$")


class CloudTrailLakeSink:
    """Ships audit events to the CloudTrail Lake channel ``[adapters.aws] audit_channel_arn``."""

    def __init__(self, aws: Aws, channel_arn: str, *, external_id: str = "") -> None:
        match = _ACCOUNT.match(channel_arn)
        if match is None:
            raise AespError(
                "INVALID_CONFIG",
                f"[adapters.aws] audit_channel_arn {channel_arn!r} is not a CloudTrail channel "
                "ARN (arn:aws:cloudtrail:<region>:<account>:channel/<id>).",
            )
        self._aws = aws
        self.channel_arn = channel_arn
        self.account = match.group(1)
        self.external_id = external_id
        self._acknowledged: OrderedDict[str, None] = OrderedDict()
        self.sent = 0  # entries CloudTrail acknowledged for this process

    @classmethod
    async def open(cls, aws: Aws) -> CloudTrailLakeSink:
        """The sink of ``[adapters.aws] audit_channel_arn`` (and ``audit_external_id``).

        The channel is created by the deployment (CloudTrail Lake integration of type
        ``ApplicationIntegration``); the sink never creates one.

        Raises:
            ConfigurationError: ``INVALID_CONFIG`` when the channel ARN is missing or malformed.
        """
        arn = aws.settings.require(
            "audit_channel_arn", "the CloudTrail Lake channel of audit events"
        )
        external = aws.settings.get("audit_external_id", "")
        return cls(aws, arn, external_id=str(external or ""))

    async def ship(self, events: Sequence[AuditEvent]) -> None:
        """Put ``events`` into the channel; idempotent by event id within this process.

        Raises:
            AespError: ``DEPENDENCY_UNAVAILABLE`` when CloudTrail cannot be reached, refuses the
                request, or still lists entries as failed; the shipper retries the batch.
        """
        pending: OrderedDict[str, dict[str, str]] = OrderedDict()
        for event in events:
            entry = self._entry(event)
            if entry["id"] not in self._acknowledged:
                pending.setdefault(entry["id"], entry)  # NOTE: one id twice in a request is refused
        for request in _requests(list(pending.values())):
            await self._put(request)

    async def close(self) -> None:
        """Nothing to release (the :class:`Aws` clients are the plugin's)."""

    # ------------------------------------------------------------------ internals

    async def _put(self, entries: list[dict[str, str]]) -> None:
        """One request; entries listed as failed are sent again up to :data:`ATTEMPTS` times."""
        errors: list[dict[str, Any]] = []
        for _ in range(ATTEMPTS):
            reply = await self._call(entries)
            for ok in reply.get("successful", []):
                self._remember(str(ok["id"]))
            errors = list(reply.get("failed", []))
            failed = {str(item["id"]) for item in errors}
            entries = [entry for entry in entries if entry["id"] in failed]
            if not entries:
                return
        first = errors[0]
        raise AespError(
            "DEPENDENCY_UNAVAILABLE",
            f"CloudTrail Lake refused {len(entries)} audit events ({first.get('errorCode')}: "
            f"{first.get('errorMessage')}); they stay in the local log and are sent again.",
            retry_after_ms=1000,
        )

    async def _call(self, entries: list[dict[str, str]]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"channelArn": self.channel_arn, "auditEvents": entries}
        if self.external_id:
            kwargs["externalId"] = self.external_id
        try:
            return dict(await self._aws.call("cloudtrail-data", "put_audit_events", **kwargs))
        except Exception as exc:
            if unreachable(exc):
                raise AespError(
                    "DEPENDENCY_UNAVAILABLE",
                    "CloudTrail Lake cannot be reached; audit events stay in the local log and "
                    "are sent when it answers again.",
                    retry_after_ms=1000,
                ) from exc
            code = error_code(exc) or type(exc).__name__
            raise AespError(
                "DEPENDENCY_UNAVAILABLE",
                f"CloudTrail Lake refused the audit events ({code}): check that "
                f"{self.channel_arn} exists, is an application integration channel, and that "
                "the Host's role may call cloudtrail-data:PutAuditEvents on it.",
                remediation_steps=(
                    "Fix the channel or the role; the events wait in the local log meanwhile.",
                ),
                escalation_required=True,
            ) from exc

    def _remember(self, entry_id: str) -> None:
        self._acknowledged[entry_id] = None
        self.sent += 1
        while len(self._acknowledged) > REMEMBER:
            self._acknowledged.popitem(last=False)

    def _entry(self, event: AuditEvent) -> dict[str, str]:
        data = json.dumps(self._event_data(event), sort_keys=True, separators=(",", ":"))
        checksum = base64.b64encode(hashlib.sha256(data.encode()).digest()).decode()
        return {"id": entry_id(event.event_id), "eventData": data, "eventDataChecksum": checksum}

    def _event_data(self, event: AuditEvent) -> dict[str, Any]:
        """The integration schema's fields, and the sealed event itself."""
        data: dict[str, Any] = {
            "version": SCHEMA_VERSION,
            "userIdentity": {
                "type": "AespPrincipal" if event.principal_id else "AespHost",
                "principalId": event.principal_id or "aesp-host",
                "details": {"tenant_id": event.tenant_id},
            },
            "eventSource": EVENT_SOURCE,
            "eventName": event.event_type,
            "eventTime": _iso(event.timestamp_ms),
            "UID": event.event_id,
            "recipientAccountId": self.account,
            "additionalEventData": {"aesp_event": event.to_json(), "outcome": event.outcome},
        }
        if event.source_ip:
            data["sourceIPAddress"] = event.source_ip
        if event.user_agent:
            data["userAgent"] = event.user_agent
        if event.outcome != "SUCCESS":
            data["errorCode"] = event.outcome
        return data


def entry_id(event_id: str) -> str:
    """The ``PutAuditEvents`` entry id of an event (see the module docstring)."""
    if _ID.match(event_id):
        return event_id
    return "sha256-" + hashlib.sha256(event_id.encode()).hexdigest()


def _iso(timestamp_ms: int) -> str:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _requests(entries: list[dict[str, str]]) -> list[list[dict[str, str]]]:
    """Split into requests of at most 100 entries and :data:`MAX_REQUEST_BYTES`.

    Raises:
        AespError: One event alone is larger than a request may be.
    """
    out: list[list[dict[str, str]]] = []
    current: list[dict[str, str]] = []
    size = 0
    for entry in entries:
        cost = len(json.dumps(entry)) + 1
        if cost > MAX_REQUEST_BYTES:
            raise AespError(
                "AUDIT_REQUIREMENT_NOT_MET",
                f"Audit event {entry['id']} is {cost} bytes, more than CloudTrail Lake takes in "
                "one request; it stays in the local log and the archive.",
                escalation_required=True,
            )
        if current and (len(current) == MAX_EVENTS or size + cost > MAX_REQUEST_BYTES):
            out.append(current)
            current, size = [], 0
        current.append(entry)
        size += cost
    if current:
        out.append(current)
    return out
