"""LDAP / Active Directory password verification: bind as the user, then map groups to roles.

Why this module exists: an enterprise directory is the source of truth for who may sign in
(SPEC checklist 150), so the Host must never keep or compare passwords itself. It asks the
directory to *bind as the user*; only the directory decides whether the password is right. After
the bind succeeds, the user's own connection reads the entry (canonical user name, display name,
an optional "disabled" marker) and the groups (``memberOf`` from the memberof overlay, or a
``groupOfNames`` search), and configuration maps groups to aesp roles.

The classic LDAP pitfalls are handled here, not left to callers:

* **Anonymous / unauthenticated binds.** RFC 4513 §5.1.2 lets a server accept a DN with an
  *empty* password as an unauthenticated bind that "succeeds". An empty password is therefore
  refused before any network I/O, and after the bind an RFC 4532 "Who am I?" must name a
  non-anonymous identity.
* **Injection.** The user name is escaped for DN use (RFC 4514) and for filter use (RFC 4515)
  with ldap3's helpers, and names with control characters or over 256 characters are refused.
* **User enumeration.** Wrong password, unknown user, injected names and disabled accounts all
  give one and the same ``INVALID_CREDENTIALS`` sentence. Only an unreachable or misconfigured
  directory gives ``AUTHENTICATION_FAILED``, with a different sentence.
* **Cleartext passwords.** A plain ``ldap://`` URL is accepted only for a loopback host, with
  StartTLS, or when ``allow_cleartext`` is set explicitly.

The entry and the groups are read on the *user's* connection, so the directory's ACLs must let a
user read their own entry and the groups (the default for OpenLDAP and Active Directory); a user
who cannot read their own entry is refused.

Every call opens its own connections, so one :class:`LdapAuthenticator` can be shared by
threads. The calls block (network I/O); run them in a worker thread from asyncio code.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import ssl
import unicodedata
import urllib.parse
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

with warnings.catch_warnings():
    # ldap3 2.9 imports names that pyasn1 has deprecated; nothing for aesp to act on.
    warnings.filterwarnings("ignore", r"(tagMap|typeMap) is deprecated", DeprecationWarning)
    import ldap3
    from ldap3.core.exceptions import LDAPException
    from ldap3.utils.conv import escape_filter_chars
    from ldap3.utils.dn import escape_rdn, parse_dn

from aesp.core.errors import AuthenticationError, ConfigurationError
from aesp.identity.types import VerifiedIdentity

__all__ = [
    "INVALID_CREDENTIALS_MESSAGE",
    "MAX_USERNAME_LENGTH",
    "UNAVAILABLE_MESSAGE",
    "LdapAuthenticator",
    "LdapSettings",
    "LdapUserSearch",
    "normalize_dn",
]

_log = logging.getLogger(__name__)

MAX_USERNAME_LENGTH: Final = 256
"""Longer user names are refused without asking the directory."""

INVALID_CREDENTIALS_MESSAGE: Final = (
    "The user name or password is incorrect, or the account is disabled in the directory."
)
"""The one sentence of every credential refusal; it never says whether the user exists."""

UNAVAILABLE_MESSAGE: Final = (
    "The LDAP directory could not be reached or refused the Host's configuration; "
    "try again later or ask an administrator to check the directory settings."
)
"""The sentence when the directory, not the caller, is at fault."""

# Bind/search result codes that mean "these credentials do not name a usable account"
# (RFC 4511 appendix A): constraintViolation (ppolicy), noSuchObject, invalidDNSyntax,
# inappropriateAuthentication, invalidCredentials, insufficientAccessRights, unwillingToPerform
# (e.g. a disabled AD account or a refused unauthenticated bind).
_CREDENTIAL_RESULT_CODES: Final = frozenset({19, 32, 34, 48, 49, 50, 53})

_ATTRIBUTE_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+")
_TEMPLATE_RE: Final = re.compile(r"(?P<attr>[A-Za-z][A-Za-z0-9-]*)=\{username\},(?P<base>.+)")
_HEX_ESCAPE_RE: Final = re.compile(r"\\([0-9A-Fa-f]{2})|\\(.)")


@dataclass(frozen=True)
class LdapUserSearch:
    """Search mode: a service account finds the user's entry, then the Host binds as the user.

    Use it when user DNs do not follow one pattern (Active Directory, several OUs).

    Attributes:
        bind_dn: The service account's DN (read-only access to user entries is enough).
        bind_password: The service account's password.
        base_dn: Where users live; searched with subtree scope.
        attribute: The attribute holding the login name (``uid``, ``sAMAccountName``, ``mail``).
        object_filter: An extra filter every user entry must match.
    """

    bind_dn: str
    bind_password: str = field(repr=False)
    base_dn: str
    attribute: str = "uid"
    object_filter: str = "(objectClass=person)"


@dataclass(frozen=True)
class LdapSettings:
    """How to reach one directory and how to read identities out of it.

    Exactly one of ``user_dn_template`` and ``user_search`` must be set.

    Attributes:
        url: ``ldap://host[:port]`` or ``ldaps://host[:port]``.
        tenant_id: The tenant every user of this directory belongs to.
        user_dn_template: Template mode: the user's DN with a ``{username}`` field as the
            whole value of the first RDN, e.g. ``uid={username},ou=people,dc=example,dc=test``.
        user_search: Search mode settings (see :class:`LdapUserSearch`).
        group_lookup: ``member_of`` reads the user's ``memberOf`` attribute (OpenLDAP memberof
            overlay, Active Directory); ``group_search`` searches ``group_base`` for groups of
            ``group_object_class`` whose ``group_member_attribute`` holds the user's DN.
        group_base: Only groups under this DN count (required for ``group_search``).
        group_object_class: Object class of groups in ``group_search`` mode.
        group_member_attribute: Member attribute of groups in ``group_search`` mode.
        group_to_roles: Maps a group, named by its full DN or by its first RDN's value (its
            CN), to one aesp role or a list of them. Matching ignores case.
        display_name_attribute: Attribute holding a human-readable name (``cn`` is the fallback).
        disabled_filter: An LDAP filter that matches *disabled* accounts, e.g.
            ``(pwdAccountLockedTime=*)`` or, for Active Directory,
            ``(userAccountControl:1.2.840.113556.1.4.803:=2)``. A matching user is refused.
        connect_timeout_s: Seconds to wait for the TCP (and TLS) connection.
        receive_timeout_s: Seconds to wait for each answer (rounded up to whole seconds).
        start_tls: Upgrade a plain ``ldap://`` connection with StartTLS before binding.
        tls_ca_file: PEM bundle trusted for the directory's certificate (system store if unset).
            Certificates are always verified, hostname included.
        allow_cleartext: Permit a plain ``ldap://`` URL to a non-loopback host without StartTLS,
            which sends passwords in the clear. Off unless you really mean it.
        check_whoami: After the bind, require the RFC 4532 "Who am I?" operation to name a
            non-anonymous identity. Turn off only for directories without that operation.
    """

    url: str
    tenant_id: str
    user_dn_template: str | None = None
    user_search: LdapUserSearch | None = None
    group_lookup: Literal["member_of", "group_search"] = "member_of"
    group_base: str | None = None
    group_object_class: str = "groupOfNames"
    group_member_attribute: str = "member"
    group_to_roles: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    display_name_attribute: str = "displayName"
    disabled_filter: str | None = None
    connect_timeout_s: float = 5.0
    receive_timeout_s: float = 10.0
    start_tls: bool = False
    tls_ca_file: str | None = None
    allow_cleartext: bool = False
    check_whoami: bool = True


def _config_error(message: str) -> ConfigurationError:
    return ConfigurationError("INVALID_CONFIG", f"LDAP settings: {message}")


def _unescape_dn_value(value: str) -> str:
    """Decode the RFC 4514 escapes (``\\,`` and ``\\2C``) of one attribute value."""
    out = bytearray()
    pos = 0
    for match in _HEX_ESCAPE_RE.finditer(value):
        out += value[pos : match.start()].encode("utf-8")
        if match.group(1) is not None:
            out.append(int(match.group(1), 16))
        else:
            out += match.group(2).encode("utf-8")
        pos = match.end()
    out += value[pos:].encode("utf-8")
    return out.decode("utf-8", errors="replace")


def _parse_dn(dn: str) -> list[list[tuple[str, str]]]:
    """Split ``dn`` into RDNs, each a list of ``(attribute, unescaped value)`` pairs."""
    rdns: list[list[tuple[str, str]]] = [[]]
    for attr, value, separator in parse_dn(dn, escape=False, strip=True):
        rdns[-1].append((attr, _unescape_dn_value(value)))
        if separator == ",":
            rdns.append([])
    return [rdn for rdn in rdns if rdn]


def normalize_dn(dn: str) -> str:
    """Return a comparison key for ``dn``: escapes decoded, case folded, spaces collapsed.

    Two spellings of one DN (``uid=a\\,b`` and ``UID=A\\2CB``) give the same key. Raises
    ``ValueError`` (from ldap3) when ``dn`` is not a DN.
    """
    rdns = []
    for rdn in _parse_dn(dn):
        pairs = sorted(f"{a.casefold()}={' '.join(v.split()).casefold()}" for a, v in rdn)
        rdns.append("+".join(pairs))
    return ",".join(rdns)


def _first_rdn_value(dn: str) -> str:
    rdns = _parse_dn(dn)
    return rdns[0][0][1] if rdns else ""


def _roles_map(mapping: Mapping[str, str | Sequence[str]]) -> dict[str, frozenset[str]]:
    """Validate ``group_to_roles`` and key it by normalized DN or case-folded name."""
    result: dict[str, frozenset[str]] = {}
    for group, roles in mapping.items():
        role_list = (roles,) if isinstance(roles, str) else tuple(roles)
        for role in role_list:
            if not isinstance(role, str) or not role or "," in role or role != role.strip():
                raise _config_error(
                    f"role {role!r} of group {group!r} must be a non-empty name without commas "
                    "or surrounding spaces"
                )
        try:
            key = normalize_dn(group) if "=" in group else group.strip().casefold()
        except (LDAPException, ValueError) as exc:
            raise _config_error(f"group_to_roles key {group!r} is not a DN: {exc}") from exc
        result[key] = result.get(key, frozenset()) | frozenset(role_list)
    return result


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_attribute(name: str, value: str) -> None:
    if _ATTRIBUTE_RE.fullmatch(value) is None:
        raise _config_error(f"{name} {value!r} is not an LDAP attribute name")


def _check_filter(name: str, value: str) -> None:
    if not (value.startswith("(") and value.endswith(")")) or value.count("(") != value.count(")"):
        raise _config_error(f"{name} {value!r} must be one parenthesised LDAP filter")


def _values(attributes: Mapping[str, Any], name: str) -> list[str]:
    """The string values of ``name`` in an ldap3 attribute dict, matching the name's case."""
    for key, raw in attributes.items():
        if key.casefold() == name.casefold():
            items = raw if isinstance(raw, list | tuple) else [raw]
            return [str(v) for v in items if v is not None and str(v) != ""]
    return []


class LdapAuthenticator:
    """Verifies a user name and password by binding to an LDAP directory as that user.

    Args:
        settings: Where the directory is and how to read identities (validated here).

    Raises:
        ConfigurationError: ``INVALID_CONFIG`` when the settings are unusable; the message names
            the setting.
    """

    def __init__(self, settings: LdapSettings) -> None:
        self._settings = settings
        self._validate(settings)
        parsed = urllib.parse.urlsplit(settings.url)
        self._url = settings.url.rstrip("/")
        self._host = parsed.hostname or ""
        self._roles = _roles_map(settings.group_to_roles)
        self._group_base_key = normalize_dn(settings.group_base) if settings.group_base else None
        self._tls: ldap3.Tls | None = None
        if parsed.scheme == "ldaps" or settings.start_tls:
            # version=None makes ldap3 use ssl.create_default_context (modern protocols and
            # ciphers); ldap3 then checks the certificate's names against the URL's host.
            try:
                self._tls = ldap3.Tls(
                    validate=ssl.CERT_REQUIRED,
                    ca_certs_file=settings.tls_ca_file,
                    sni=self._host,
                )
            except LDAPException as exc:
                raise _config_error(f"TLS settings: {exc}") from exc
        self._login_attribute: str
        self._user_base: str | None = None
        if settings.user_dn_template is not None:
            match = _TEMPLATE_RE.fullmatch(settings.user_dn_template)
            assert match is not None  # checked by _validate
            self._login_attribute = match.group("attr")
            self._user_base = match.group("base")
        else:
            assert settings.user_search is not None  # checked by _validate
            self._login_attribute = settings.user_search.attribute

    @staticmethod
    def _validate(s: LdapSettings) -> None:
        """Check every setting once, so a bad one stops start-up instead of every login."""
        parsed = urllib.parse.urlsplit(s.url)
        if parsed.scheme not in ("ldap", "ldaps") or not parsed.hostname:
            raise _config_error(f"url {s.url!r} must look like ldap://host:port or ldaps://host")
        if parsed.path not in ("", "/") or parsed.query or parsed.fragment or parsed.username:
            raise _config_error(f"url {s.url!r} must not carry a path, query or user")
        try:
            _ = parsed.port
        except ValueError as exc:
            raise _config_error(f"url {s.url!r} has an invalid port") from exc
        if not s.tenant_id:
            raise _config_error("tenant_id must be set")
        if parsed.scheme == "ldaps" and s.start_tls:
            raise _config_error("start_tls is for ldap:// URLs; ldaps:// is already TLS")
        if (
            parsed.scheme == "ldap"
            and not s.start_tls
            and not s.allow_cleartext
            and not _is_loopback(parsed.hostname)
        ):
            raise _config_error(
                f"url {s.url!r} would send passwords in the clear; use ldaps://, set "
                "start_tls, or set allow_cleartext if the network is otherwise protected"
            )
        if (s.user_dn_template is None) == (s.user_search is None):
            raise _config_error("set exactly one of user_dn_template and user_search")
        if s.user_dn_template is not None:
            match = _TEMPLATE_RE.fullmatch(s.user_dn_template)
            if match is None or "{" in match.group("base") or "}" in match.group("base"):
                raise _config_error(
                    f"user_dn_template {s.user_dn_template!r} must start with "
                    "'<attribute>={username},' followed by a DN"
                )
            try:
                normalize_dn(match.group("base"))
            except (LDAPException, ValueError) as exc:
                raise _config_error(f"user_dn_template base is not a DN: {exc}") from exc
        if s.user_search is not None:
            _check_attribute("user_search.attribute", s.user_search.attribute)
            _check_filter("user_search.object_filter", s.user_search.object_filter)
            if not s.user_search.bind_dn or not s.user_search.bind_password:
                raise _config_error("user_search needs bind_dn and bind_password")
            if not s.user_search.base_dn:
                raise _config_error("user_search.base_dn must be set")
        if s.group_lookup not in ("member_of", "group_search"):
            raise _config_error("group_lookup must be 'member_of' or 'group_search'")
        if s.group_lookup == "group_search" and not s.group_base:
            raise _config_error("group_lookup 'group_search' needs group_base")
        if s.group_base:
            try:
                normalize_dn(s.group_base)
            except (LDAPException, ValueError) as exc:
                raise _config_error(f"group_base is not a DN: {exc}") from exc
        _check_attribute("group_object_class", s.group_object_class)
        _check_attribute("group_member_attribute", s.group_member_attribute)
        _check_attribute("display_name_attribute", s.display_name_attribute)
        if s.disabled_filter is not None:
            _check_filter("disabled_filter", s.disabled_filter)
        if not (0 < s.connect_timeout_s <= 300 and 0 < s.receive_timeout_s <= 300):
            raise _config_error("timeouts must be between 0 and 300 seconds")

    @property
    def settings(self) -> LdapSettings:
        """The settings this authenticator was built with."""
        return self._settings

    # ------------------------------------------------------------------ public API

    def authenticate(self, username: str, password: str) -> VerifiedIdentity:
        """Verify ``username``/``password`` against the directory.

        Args:
            username: The login name as the user typed it.
            password: The password; never logged, never compared by the Host.

        Returns:
            The identity: ``principal_id`` ``ldap|<url>|<user name as stored>``, the groups' DNs
            in ``groups``, the mapped roles comma-joined in ``claims["roles"]`` and the entry's
            DN in ``claims["dn"]``.

        Raises:
            AuthenticationError: ``INVALID_CREDENTIALS`` (always :data:`INVALID_CREDENTIALS_MESSAGE`)
                for a wrong password, unknown or disabled user, empty password or a refused user
                name; ``AUTHENTICATION_FAILED`` when the directory is unreachable, times out or
                rejects the Host's own configuration (service account, bases, TLS).
        """
        self._check_input(username, password)
        try:
            user_dn = self._user_dn(username)
            return self._bind_and_read(username, password, user_dn)
        except AuthenticationError:
            raise
        except (LDAPException, OSError) as exc:
            _log.warning("LDAP directory %s failed: %s: %s", self._url, type(exc).__name__, exc)
            raise self._unavailable() from None

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _refuse(username: str, reason: str) -> AuthenticationError:
        _log.info("LDAP login refused for %r: %s", username[:MAX_USERNAME_LENGTH], reason)
        return AuthenticationError("INVALID_CREDENTIALS", INVALID_CREDENTIALS_MESSAGE)

    @staticmethod
    def _unavailable() -> AuthenticationError:
        return AuthenticationError(
            "AUTHENTICATION_FAILED", UNAVAILABLE_MESSAGE, retry_after_ms=1000
        )

    def _check_input(self, username: str, password: str) -> None:
        """Refuse what must never reach the directory: empty values, control characters, size."""
        if not isinstance(username, str) or not isinstance(password, str):
            raise self._refuse(repr(type(username)), "user name and password must be strings")
        if not username.strip():
            raise self._refuse(username, "empty user name")
        if len(username) > MAX_USERNAME_LENGTH:
            raise self._refuse(username, "user name too long")
        if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in username):
            raise self._refuse(username, "control or format character in user name")
        if password == "":
            # An empty password would be an RFC 4513 unauthenticated bind: never a success.
            raise self._refuse(username, "empty password")

    def _server(self) -> ldap3.Server:
        return ldap3.Server(
            self._settings.url,
            tls=self._tls,
            get_info=ldap3.NONE,
            connect_timeout=self._settings.connect_timeout_s,
        )

    def _connection(self, user: str, password: str) -> ldap3.Connection:
        """Open (and, if configured, StartTLS) a connection that will bind as ``user``."""
        conn = ldap3.Connection(
            self._server(),
            user=user,
            password=password,
            authentication=ldap3.SIMPLE,
            # ldap3 packs this into SO_RCVTIMEO as whole seconds.
            receive_timeout=max(1, math.ceil(self._settings.receive_timeout_s)),
            raise_exceptions=False,
            auto_referrals=False,
            read_only=True,
        )
        conn.open()
        if self._settings.start_tls and not conn.start_tls():
            conn.unbind()
            raise LDAPException(f"StartTLS failed: {conn.result}")
        return conn

    def _user_dn(self, username: str) -> str:
        """Template mode: build the DN; search mode: find it with the service account."""
        if self._user_base is not None:
            return f"{self._login_attribute}={escape_rdn(username)},{self._user_base}"
        search = self._settings.user_search
        assert search is not None
        conn = self._connection(search.bind_dn, search.bind_password)
        try:
            if not conn.bind():
                _log.error("LDAP service account bind failed: %s", conn.result.get("description"))
                raise self._unavailable()
            search_filter = (
                f"(&{search.object_filter}({search.attribute}={escape_filter_chars(username)}))"
            )
            ok = conn.search(
                search.base_dn,
                search_filter,
                search_scope=ldap3.SUBTREE,
                attributes=[],
                size_limit=2,
            )
            code = conn.result.get("result", 0)
            if not ok and code not in (0, 4):  # 4 = sizeLimitExceeded: ambiguous, handled below
                _log.error("LDAP user search failed: %s", conn.result.get("description"))
                raise self._unavailable()
            entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
            if len(entries) != 1:
                raise self._refuse(username, f"user search found {len(entries)} entries")
            return str(entries[0]["dn"])
        finally:
            conn.unbind()

    def _bind_and_read(self, username: str, password: str, user_dn: str) -> VerifiedIdentity:
        conn = self._connection(user_dn, password)
        try:
            if not conn.bind():
                code = conn.result.get("result")
                if code in _CREDENTIAL_RESULT_CODES:
                    raise self._refuse(username, f"bind refused: {conn.result.get('description')}")
                _log.error("LDAP bind failed: %s", conn.result)
                raise self._unavailable()
            if self._settings.check_whoami:
                who = conn.extend.standard.who_am_i()
                if not who:
                    raise self._refuse(username, "bind did not authenticate (anonymous identity)")
            entry_dn, attributes = self._read_entry(conn, username, user_dn)
            groups = self._groups(conn, entry_dn, attributes)
        finally:
            conn.unbind()
        return self._identity(username, entry_dn, attributes, groups)

    def _read_entry(
        self, conn: ldap3.Connection, username: str, user_dn: str
    ) -> tuple[str, Mapping[str, Any]]:
        """Read the bound user's own entry; no entry (or a disabled one) refuses the login."""
        s = self._settings
        entry_filter = "(objectClass=*)"
        if s.disabled_filter is not None:
            entry_filter = f"(!{s.disabled_filter})"
        wanted = [self._login_attribute, s.display_name_attribute, "cn"]
        if s.group_lookup == "member_of":
            wanted.append("memberOf")
        ok = conn.search(user_dn, entry_filter, search_scope=ldap3.BASE, attributes=wanted)
        code = conn.result.get("result", 0)
        if not ok and code not in (0, 32):
            _log.error("LDAP read of the user entry failed: %s", conn.result.get("description"))
            raise self._unavailable()
        entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
        if len(entries) != 1:
            raise self._refuse(username, "user entry missing, unreadable or disabled")
        entry = entries[0]
        return str(entry["dn"]), entry.get("attributes") or {}

    def _groups(
        self, conn: ldap3.Connection, entry_dn: str, attributes: Mapping[str, Any]
    ) -> list[str]:
        """The user's group DNs under ``group_base`` (all groups when it is unset)."""
        s = self._settings
        if s.group_lookup == "member_of":
            found = _values(attributes, "memberOf")
        else:
            assert s.group_base is not None
            group_filter = (
                f"(&(objectClass={s.group_object_class})"
                f"({s.group_member_attribute}={escape_filter_chars(entry_dn)}))"
            )
            ok = conn.search(s.group_base, group_filter, search_scope=ldap3.SUBTREE, attributes=[])
            if not ok and conn.result.get("result", 0) != 0:
                _log.error("LDAP group search failed: %s", conn.result.get("description"))
                raise self._unavailable()
            found = [str(e["dn"]) for e in conn.response or [] if e.get("type") == "searchResEntry"]
        groups: dict[str, str] = {}
        for dn in found:
            try:
                key = normalize_dn(dn)
            except (LDAPException, ValueError):
                continue
            if self._group_base_key is None or key.endswith("," + self._group_base_key):
                groups.setdefault(key, dn)
        return sorted(groups.values(), key=str.casefold)

    def _roles_of(self, groups: Sequence[str]) -> list[str]:
        roles: set[str] = set()
        for dn in groups:
            roles |= self._roles.get(normalize_dn(dn), frozenset())
            roles |= self._roles.get(" ".join(_first_rdn_value(dn).split()).casefold(), frozenset())
        return sorted(roles)

    def _identity(
        self,
        username: str,
        entry_dn: str,
        attributes: Mapping[str, Any],
        groups: Sequence[str],
    ) -> VerifiedIdentity:
        subject = self._canonical_name(username, _values(attributes, self._login_attribute))
        display = _values(attributes, self._settings.display_name_attribute) or _values(
            attributes, "cn"
        )
        roles = self._roles_of(groups)
        return VerifiedIdentity(
            principal_id=f"ldap|{self._url}|{subject}",
            tenant_id=self._settings.tenant_id,
            source="ldap",
            issuer=self._url,
            subject=subject,
            display_name=display[0] if display else "",
            groups=tuple(groups),
            claims={"roles": ",".join(roles), "dn": entry_dn},
        )

    @staticmethod
    def _canonical_name(username: str, stored: Sequence[str]) -> str:
        """The user name as the directory stores it, so ``Alice`` and ``alice`` are one principal."""
        wanted = " ".join(username.split()).casefold()
        for value in stored:
            if " ".join(value.split()).casefold() == wanted:
                return value
        return sorted(stored)[0] if stored else username
