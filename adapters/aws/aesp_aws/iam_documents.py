"""AESP permissions as IAM policy documents, and IAM's evaluation of those documents.

Why: on AWS the source of truth for roles is IAM (issue 5), so an operator can grant, revoke or
deny with the tools they already use. The Host still decides locally from a snapshot (DESIGN §2
principle 2); this module is the exact, documented bridge between the two vocabularies.

**The mapping.** An AESP permission ``<resource>:<name>:<action>`` (:mod:`aesp.core.rbac`) is
one IAM (action, resource) pair, segment by segment, so ``*`` segments stay ``*`` and coverage
means the same on both sides:

====================================  =====================  =====================================
AESP permission                       IAM ``Action``         IAM ``Resource``
====================================  =====================  =====================================
``tool:search:invoke``                ``aesp:InvokeTool``    ``arn:aws:aesp:*:*:contract/search``
``tool:*:invoke``                     ``aesp:InvokeTool``    ``arn:aws:aesp:*:*:contract/*``
``tool:*:read``                       ``aesp:read``          ``arn:aws:aesp:*:*:contract/*``
``aesp:identity:CreatePrincipal``     ``aesp:CreatePrincipal``  ``arn:aws:aesp:*:*:aesp/identity``
``aesp:platform:cross-tenant``        ``aesp:cross-tenant``  ``arn:aws:aesp:*:*:aesp/platform``
``aesp:governance:*``                 ``aesp:*``             ``arn:aws:aesp:*:*:aesp/governance``
``*:*:*``                             ``aesp:*``             ``arn:aws:aesp:*:*:*/*``
====================================  =====================  =====================================

Rules: the action segment is the IAM action name, except ``invoke`` ↔ ``InvokeTool``; the
resource segment is the ARN's resource type, except ``tool`` ↔ ``contract`` (tools are governed
contracts); the name segment is the ARN's resource id. ARNs are written with ``*`` region and
account, valid in every deployment; the partition follows the region (``aws``, ``aws-cn``,
``aws-us-gov``). Reserved, refused on write because they would read back as something else: an
AESP resource segment ``contract``, and action segments spelled ``invoketool`` or ``invoke`` in
any case other than ``invoke`` itself.

**Reading.** A document from IAM may use anything IAM allows. :func:`translate` turns it into
``(permissions, denied)`` for :class:`~aesp.core.rbac.RoleDefinition`, exactly where AESP's
grammar can say the same thing, and fail-closed where it cannot:

* statements that cannot touch an AESP action or resource (``s3:*``, another region or account
  in the ARN, ``NotAction: aesp:*``) are skipped: they mean nothing here;
* an ``Allow`` AESP's grammar cannot express (``aesp:Invoke*``, ``contract/get_*``,
  ``NotAction``/``NotResource`` naming AESP actions or resources, any ``Condition``) is left out:
  the Host grants less than IAM would;
* a ``Deny`` it cannot express is widened to the nearest whole-segment pattern
  (``contract/get_*`` → ``tool:*:<action>``, an inexact action → ``*``; a ``Condition`` is
  ignored): the Host denies more than IAM would.

Each of these is reported in :attr:`Translation.approximations`. IAM compares action names
case-insensitively while AESP segments are case-sensitive: the store keeps the spelling written
in IAM, so spell AESP actions as the Host asks for them (``aesp:AdjudicateApproval``).

**Evaluating.** :func:`evaluate` is IAM's identity-policy logic for a set of documents: an
explicit ``Deny`` beats any ``Allow``, an ``Allow`` beats the implicit deny; ``*`` matches any
run of characters and ``?`` one character; action names match case-insensitively, ARNs
case-sensitively and segment by segment. The Host's decisions come from the core snapshot built
from :func:`translate`; the evaluator is the reference the translation is tested against.
"""

from __future__ import annotations

import enum
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from aesp.core.rbac import WILDCARD, parse_permission

__all__ = [
    "Evaluation",
    "Outcome",
    "PolicyDocument",
    "PolicyDocumentError",
    "Statement",
    "Translation",
    "aesp_request",
    "evaluate",
    "partition_of",
    "to_document",
    "translate",
]

VERSION: Final = "2012-10-17"
_VERSIONS: Final = frozenset({"2012-10-17", "2008-10-17"})  # both are accepted by IAM
SERVICE: Final = "aesp"
INVOKE: Final = ("invoke", "InvokeTool")  # AESP action segment ↔ IAM action name
TOOL: Final = ("tool", "contract")  # AESP resource segment ↔ ARN resource type
_ARN_PARTS: Final = 6  # arn:partition:service:region:account:resource
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")


class PolicyDocumentError(ValueError):
    """A document IAM would not accept, or one this module cannot write."""


class Outcome(enum.Enum):
    """IAM's three results, strongest first."""

    EXPLICIT_DENY = "explicit-deny"
    ALLOW = "allow"
    IMPLICIT_DENY = "implicit-deny"


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement of an identity policy.

    Attributes:
        effect: ``"Allow"`` or ``"Deny"``.
        actions: The ``Action`` (or, with ``not_action``, ``NotAction``) patterns.
        resources: The ``Resource`` (or, with ``not_resource``, ``NotResource``) patterns.
        conditional: The statement has a ``Condition``; the Host has no IAM request context to
            evaluate it, so a conditional Allow never applies and a conditional Deny always does.
        sid: The statement id, for messages.
    """

    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_action: bool = False
    not_resource: bool = False
    conditional: bool = False
    sid: str = ""

    @property
    def label(self) -> str:
        """How messages name the statement."""
        return f"statement {self.sid!r}" if self.sid else "a statement"


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """A parsed identity-policy document."""

    statements: tuple[Statement, ...]

    @classmethod
    def parse(cls, raw: str | Mapping[str, Any]) -> PolicyDocument:
        """Parse JSON text or a decoded object (boto3 returns inline policies decoded).

        Raises:
            PolicyDocumentError: Not an identity policy IAM accepts: wrong ``Version``, no
                ``Statement``, an ``Effect`` other than ``Allow``/``Deny``, not exactly one of
                ``Action``/``NotAction`` and of ``Resource``/``NotResource``, a ``Principal``.
        """
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError as exc:
                raise PolicyDocumentError(f"policy document is not JSON: {exc}") from None
        if not isinstance(raw, Mapping):
            raise PolicyDocumentError("policy document must be a JSON object")
        version = raw.get("Version", "2008-10-17")
        if version not in _VERSIONS:
            raise PolicyDocumentError(f"policy Version {version!r} is not {VERSION!r}")
        body = raw.get("Statement")
        items = [body] if isinstance(body, Mapping) else body
        if not isinstance(items, list):
            raise PolicyDocumentError("policy Statement must be an object or a list of objects")
        return cls(tuple(_statement(item) for item in items))


def _strings(value: Any, key: str) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise PolicyDocumentError(f"{key} must be a string or a non-empty list of strings")
    return tuple(values)


def _one_of(item: Mapping[str, Any], key: str) -> tuple[tuple[str, ...], bool]:
    negated = f"Not{key}"
    if (key in item) == (negated in item):
        raise PolicyDocumentError(f"a statement needs exactly one of {key} and {negated}")
    if key in item:
        return _strings(item[key], key), False
    return _strings(item[negated], negated), True


def _statement(item: Any) -> Statement:
    if not isinstance(item, Mapping):
        raise PolicyDocumentError("each policy statement must be a JSON object")
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyDocumentError(f"statement Effect {effect!r} must be 'Allow' or 'Deny'")
    if "Principal" in item or "NotPrincipal" in item:
        raise PolicyDocumentError("an identity policy statement cannot name a Principal")
    actions, not_action = _one_of(item, "Action")
    resources, not_resource = _one_of(item, "Resource")
    return Statement(
        effect=effect,
        actions=actions,
        resources=resources,
        not_action=not_action,
        not_resource=not_resource,
        conditional=bool(item.get("Condition")),
        sid=str(item.get("Sid", "")),
    )


# ---------------------------------------------------------------------- matching


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, fold: bool) -> re.Pattern[str]:
    body = "".join(
        ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern
    )  # IAM wildcards: '*' any run (also empty), '?' exactly one character
    return re.compile(body, re.DOTALL | (re.IGNORECASE if fold else 0))


def _is_glob(text: str) -> bool:
    """Whether ``text`` stands for more than itself: a wildcard, or a policy variable
    (``${aws:username}``) that IAM substitutes from a request context the Host does not have."""
    return "*" in text or "?" in text or "${" in text


def action_matches(pattern: str, action: str) -> bool:
    """IAM action matching: wildcards, case-insensitive (``aesp:invoke*`` ~ ``aesp:InvokeTool``)."""
    return _glob(pattern, True).fullmatch(action) is not None


def arn_matches(pattern: str, arn: str) -> bool:
    """IAM resource matching: ``*`` matches everything; otherwise segment by segment,
    case-sensitive, the sixth segment (the resource) being the rest of the ARN."""
    if pattern == WILDCARD:
        return True
    want = pattern.split(":", _ARN_PARTS - 1)
    have = arn.split(":", _ARN_PARTS - 1)
    if len(want) != _ARN_PARTS or len(have) != _ARN_PARTS:
        return False
    return all(_glob(w, False).fullmatch(h) is not None for w, h in zip(want, have, strict=True))


def _statement_matches(statement: Statement, action: str, resource: str) -> bool:
    hit = any(action_matches(p, action) for p in statement.actions)
    if hit == statement.not_action:
        return False
    hit = any(arn_matches(p, resource) for p in statement.resources)
    return hit != statement.not_resource


@dataclass(frozen=True, slots=True)
class Evaluation:
    """IAM's answer for one request, and the statement that decided (None: implicit deny)."""

    outcome: Outcome
    statement: Statement | None = None

    @property
    def allowed(self) -> bool:
        """Only an Allow with no explicit Deny allows."""
        return self.outcome is Outcome.ALLOW


def evaluate(documents: Iterable[PolicyDocument], action: str, resource: str) -> Evaluation:
    """IAM's identity-policy evaluation: explicit Deny > Allow > implicit deny.

    Args:
        documents: Every policy that applies (all of a principal's roles, their parents').
        action: ``aesp:<Name>``, see :func:`aesp_request`.
        resource: The resource's ARN.
    """
    allow: Statement | None = None
    for document in documents:
        for statement in document.statements:
            if statement.effect == "Allow" and statement.conditional:
                continue  # no IAM request context here: a condition cannot be shown to hold
            if not _statement_matches(statement, action, resource):
                continue
            if statement.effect == "Deny":
                return Evaluation(Outcome.EXPLICIT_DENY, statement)
            allow = allow or statement
    return Evaluation(Outcome.ALLOW, allow) if allow else Evaluation(Outcome.IMPLICIT_DENY)


# ---------------------------------------------------------------------- AESP → IAM


def partition_of(region: str) -> str:
    """The ARN partition of a region (``cn-north-1`` → ``aws-cn``)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _iam_action(segment: str) -> str:
    if segment == INVOKE[0]:
        return f"{SERVICE}:{INVOKE[1]}"
    if segment.lower() in (INVOKE[0], INVOKE[1].lower()):
        raise PolicyDocumentError(
            f"action {segment!r} is reserved: IAM's {INVOKE[1]} is AESP's '{INVOKE[0]}', and "
            "IAM compares action names case-insensitively"
        )
    return f"{SERVICE}:{segment}"


def _arn_type(segment: str) -> str:
    if segment == TOOL[0]:
        return TOOL[1]
    if segment == TOOL[1]:
        raise PolicyDocumentError(
            f"resource {segment!r} is reserved: IAM's '{TOOL[1]}/...' is AESP's '{TOOL[0]}'"
        )
    return segment


def aesp_request(
    permission: str, *, partition: str = "aws", region: str = "*", account: str = "*"
) -> tuple[str, str]:
    """The IAM ``(action, resource ARN)`` of an AESP permission (wildcard segments stay ``*``).

    With the deployment's region and account it is what the Host asks about; with the defaults
    it is what the store writes.

    Raises:
        ValueError: A malformed permission, or a reserved segment.
    """
    resource, name, action = parse_permission(permission)
    arn = f"arn:{partition}:{SERVICE}:{region}:{account}:{_arn_type(resource)}/{name}"
    return _iam_action(action), arn


def to_document(
    permissions: Sequence[str], denied: Sequence[str] = (), *, partition: str = "aws"
) -> dict[str, Any]:
    """The identity policy of a role: one statement per permission, grants first, in order.

    One statement each (rather than grouped) keeps the order of ``permissions`` and ``denied``
    through a round trip, which the RBAC port promises.

    Raises:
        PolicyDocumentError: A malformed permission or a reserved segment.
    """
    statements = []
    for effect, values in (("Allow", permissions), ("Deny", denied)):
        for permission in values:
            try:
                action, resource = aesp_request(permission, partition=partition)
            except ValueError as exc:
                raise PolicyDocumentError(str(exc)) from None
            statements.append({"Effect": effect, "Action": action, "Resource": resource})
    return {"Version": VERSION, "Statement": statements}


# ---------------------------------------------------------------------- IAM → AESP

_Pair = tuple[str, str]  # (AESP resource segment, AESP name segment)


@dataclass(frozen=True, slots=True)
class Translation:
    """What a role's IAM document means to the Host.

    Attributes:
        permissions: Grants for :attr:`RoleDefinition.permissions`, in document order.
        denied: Denials for :attr:`RoleDefinition.denied`, in document order.
        approximations: One sentence per statement that could not be expressed exactly and
            was left out (an Allow) or widened (a Deny).
    """

    permissions: tuple[str, ...] = ()
    denied: tuple[str, ...] = ()
    approximations: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Where:
    """The deployment a document is read for: statements for other ARNs do not apply."""

    partition: str
    region: str
    account: str


def _aesp_action(pattern: str) -> str | None:
    """The AESP action segment an IAM action pattern names exactly: ``*``, a segment, ``""``
    when it names no AESP action, None when it is a partial wildcard."""
    if pattern == WILDCARD:
        return WILDCARD
    vendor, _, name = pattern.partition(":")
    if not _glob(vendor, True).fullmatch(SERVICE):
        return ""  # another service's action
    if name and not name.strip(WILDCARD):
        return WILDCARD
    if _is_glob(vendor) or _is_glob(name):
        return None
    folded = name.lower()
    if folded == INVOKE[1].lower():
        return INVOKE[0]
    if folded == INVOKE[0] or not _SEGMENT.match(name):
        return ""  # 'aesp:invoke' is not InvokeTool: no AESP action is written that way
    return name


def _actions(statement: Statement) -> tuple[list[str], list[str]]:
    """AESP action segments the action element covers: (exactly covered, covering superset)."""
    found = [_aesp_action(p) for p in statement.actions]
    if statement.not_action:
        if WILDCARD in found:
            return [], []  # excludes every AESP action
        if all(f == "" for f in found):
            return [WILDCARD], [WILDCARD]  # excludes only other services' actions
        return [], [WILDCARD]
    exact = [f for f in found if f]
    return exact, exact if None not in found else [WILDCARD]


def _segment(text: str) -> str | None:
    """An ARN piece as an AESP segment: itself or ``*``; ``""`` if no AESP segment; None if a
    partial wildcard."""
    if text == WILDCARD:
        return WILDCARD
    if _is_glob(text):
        return None
    return text if _SEGMENT.match(text) else ""


def _aesp_type(arn_type: str) -> str:
    if arn_type == TOOL[1]:
        return TOOL[0]
    return "" if arn_type == TOOL[0] else arn_type  # ARN 'tool/...' is no AESP resource


_SKIP: Final = ("", "")


def _resource(pattern: str, where: _Where) -> tuple[_Pair, _Pair]:
    """The AESP (resource, name) an ARN pattern covers: (exactly, as a covering superset);
    :data:`_SKIP` where it covers no AESP resource of this deployment."""
    every = (WILDCARD, WILDCARD)
    if pattern == WILDCARD:
        return every, every
    parts = pattern.split(":", _ARN_PARTS - 1)
    if len(parts) != _ARN_PARTS or parts[0] != "arn":
        return _SKIP, _SKIP
    fixed = zip(parts[1:5], (where.partition, SERVICE, where.region, where.account), strict=True)
    if not all(_glob(p, False).fullmatch(v) for p, v in fixed):
        return _SKIP, _SKIP  # another partition, service, region or account
    rest = parts[5]
    if not rest.strip(WILDCARD):
        return every, every
    arn_type, slash, name = rest.partition("/")
    kind = _segment(arn_type) if slash else None
    if kind == "":
        return _SKIP, _SKIP
    resource = WILDCARD if kind in (None, WILDCARD) else _aesp_type(str(kind))
    if not resource:
        return _SKIP, _SKIP
    ident = _segment(name) if slash and kind is not None else None
    if ident is None:
        return _SKIP, (resource, WILDCARD)
    return ((resource, ident), (resource, ident)) if ident else (_SKIP, _SKIP)


def _resources(statement: Statement, where: _Where) -> tuple[list[_Pair], list[_Pair]]:
    """AESP (resource, name) pairs the resource element covers: (exactly, covering superset)."""
    found = [_resource(p, where) for p in statement.resources]
    every = (WILDCARD, WILDCARD)
    if statement.not_resource:
        if any(exact == every for exact, _ in found):
            return [], []  # excludes every AESP resource
        if all(over == _SKIP for _, over in found):
            return [every], [every]  # excludes nothing AESP
        return [], [every]
    exact = [e for e, _ in found if e != _SKIP]
    over = [o for _, o in found if o != _SKIP]
    return exact, over


def translate(
    document: PolicyDocument, *, partition: str = "aws", region: str, account: str
) -> Translation:
    """What ``document`` grants and denies in AESP terms, for one deployment (see the module
    docstring for what is exact and what is approximated, always failing closed).

    Args:
        document: A role's identity policy.
        partition: The deployment's ARN partition.
        region: The deployment's region (ARNs naming another region do not apply).
        account: The AWS account holding the roles (ARNs naming another account do not apply).
    """
    where = _Where(partition, region, account)
    grants: list[str] = []
    denials: list[str] = []
    notes: list[str] = []
    for statement in document.statements:
        actions, wider_actions = _actions(statement)
        pairs, wider_pairs = _resources(statement, where)
        exact = [f"{r}:{n}:{a}" for a in actions for r, n in pairs]
        wider = [f"{r}:{n}:{a}" for a in wider_actions for r, n in wider_pairs]
        if statement.effect == "Allow":
            granted = [] if statement.conditional else exact
            grants.extend(granted)
            if wider != granted:
                notes.append(
                    f"{statement.label} (Allow) is not fully expressible as AESP permissions "
                    "(partial wildcard, NotAction/NotResource or Condition); it grants only "
                    f"{', '.join(granted) or 'nothing'} here"
                )
        else:
            denials.extend(wider)
            if wider != exact or (statement.conditional and wider):
                notes.append(
                    f"{statement.label} (Deny) is not exactly expressible as AESP permissions; "
                    f"it is widened to {', '.join(wider)} (any Condition ignored), denying more"
                )
    return Translation(tuple(grants), tuple(denials), tuple(notes))
