"""The AppConfig operations moto 5.2.5 lacks, as a local HTTP server speaking AWS's REST-JSON.

moto serves applications, configuration profiles and hosted configuration versions, but not
environments, deployment strategies, deployments nor the ``appconfigdata`` service
(notes/dependencies.md §B). This server implements exactly those the Config adapter calls, with
the paths, JSON shapes, headers and status codes of botocore's models (``appconfig`` 2019-10-09,
``appconfigdata`` 2021-11-11), and forwards every other request unchanged to moto. So one
``appconfig`` client (and one ``appconfigdata`` client) pointed at this server talks to both,
and boto3 parses every answer with its real REST-JSON parser.

Implemented here:

- ``CreateEnvironment``, ``GetEnvironment``  (``/applications/{app}/environments[/{env}]``)
- ``CreateDeploymentStrategy``               (``POST /deploymentstrategies``)
- ``StartDeployment``, ``GetDeployment``     (``/applications/{app}/environments/{env}/deployments``)
- ``StartConfigurationSession``              (``POST /configurationsessions``)
- ``GetLatestConfiguration``                 (``GET /configuration?configuration_token=...``)

Content: the fake keeps no copy of hosted configuration versions. ``StartDeployment`` reads the
version's content from moto (the real ``GetHostedConfigurationVersion`` path) and the deployment
holds it from then on, as a real deployment does. A deployment finishes when its strategy's
duration plus final bake time has passed (immediately for a 0 + 0 strategy); while one runs,
another ``StartDeployment`` on the environment is refused with ``ConflictException``, as AWS
does. Application and profile identifiers are moto's ids; an environment is found by id or name.

Before any deployment, a session's ``GetLatestConfiguration`` answers an empty configuration
(AWS does not document this case; the adapter reopens its session after any error, so it works
with either answer).

One knob departs from AWS on purpose: ``poll_interval_s``. Like AWS, the data plane advises
(``Next-Poll-Interval-In-Seconds``) the session's ``RequiredMinimumPollIntervalInSeconds``, 60 s
when none was asked for; a ``poll_interval_s`` given to the fake replaces that advice, so tests
can set 0 where AWS never advises under 15 s.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_HOP_BY_HOP = {"connection", "transfer-encoding", "content-length", "keep-alive", "host"}


class ApiError(Exception):
    """An AWS error reply: status, ``x-amzn-ErrorType`` and a ``{"Message": ...}`` body."""

    def __init__(self, status: int, error_type: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.error_type, self.body = status, error_type, {"Message": message, **extra}


def _not_found(what: str, ident: str, resource_type: str) -> ApiError:
    return ApiError(
        404, "ResourceNotFoundException", f"{what} {ident} not found", ResourceType=resource_type
    )


def _bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequestException", message, Reason="InvalidParameters")


@dataclass
class _Deployment:
    number: int
    body: dict[str, Any]
    content: bytes
    content_type: str
    version_label: str
    started: float
    ends: float  # when the strategy's duration and bake time have passed

    def state(self) -> str:
        return "COMPLETE" if time.time() >= self.ends else "DEPLOYING"


@dataclass(frozen=True)
class _Session:
    app: str
    env: str
    profile: str
    poll_s: int
    seen: int  # the number of the last deployment this session has handed out


@dataclass
class _State:
    environments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    strategies: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[tuple[str, str], list[_Deployment]] = field(default_factory=dict)
    tokens: dict[str, _Session] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class AppConfigFake:
    """The server thread. ``port=0`` picks a free port, kept across :meth:`stop`/:meth:`start`
    together with every environment, strategy, deployment and session (an outage, not a reset).

    Args:
        upstream: moto's URL; requests this fake does not implement go there.
        poll_interval_s: What ``GetLatestConfiguration`` advises instead of the session's
            interval (AWS: the session's, 15 s or more); None to behave as AWS.
        port: The port to listen on; 0 picks a free one.
        region: The region of the moto backend the fake's own look-ups read.
    """

    def __init__(
        self,
        upstream: str,
        *,
        poll_interval_s: int | None = None,
        port: int = 0,
        region: str = "us-east-1",
    ) -> None:
        self.upstream = upstream
        self.region = region
        self.poll_interval_s = poll_interval_s
        self.port = port
        self._state = _State()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The endpoint of the ``appconfig`` and ``appconfigdata`` clients."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AppConfigFake:
        """Start serving (again, on the same port)."""
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering; state is kept for the next :meth:`start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ------------------------------------------------------------------ moto, upstream

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send one request to moto unchanged; its status, headers and body."""
        target = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=10)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
            conn.request(method, path, body=body or None, headers=sent)
            reply = conn.getresponse()
            return reply.status, reply.getheaders(), reply.read()
        finally:
            conn.close()

    def _lookup(self, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        """A GET to moto, signed-looking for appconfig (moto routes by the credential scope)."""
        scope = f"testing/20200101/{self.region}/appconfig/aws4_request"
        auth = f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"
        return self.forward("GET", path, {"Authorization": auth}, b"")

    def _moto_json(self, path: str, what: str, ident: str, resource_type: str) -> dict[str, Any]:
        status, _, body = self._lookup(path)
        if status == 404:
            raise _not_found(what, ident, resource_type)
        if status != 200:
            raise ApiError(500, "InternalServerException", f"upstream answered {status}")
        return dict(json.loads(body))

    def _check_app(self, app: str) -> None:
        self._moto_json(f"/applications/{app}", "Application", app, "Application")

    def _profile(self, app: str, profile: str) -> dict[str, Any]:
        path = f"/applications/{app}/configurationprofiles/{profile}"
        return self._moto_json(path, "ConfigurationProfile", profile, "ConfigurationProfile")

    def _environment(self, app: str, env: str) -> dict[str, Any]:
        found = self._state.environments.get((app, env))
        if found is None:  # also by name, as AWS allows
            named = [e for (a, _), e in self._state.environments.items() if a == app]
            found = next((e for e in named if e["Name"] == env), None)
        if found is None:
            raise _not_found("Environment", env, "Environment")
        return found

    # ------------------------------------------------------------------ appconfig

    def create_environment(self, app: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not body.get("Name"):
            raise _bad_request("Name is required")
        self._check_app(app)
        env = {
            "ApplicationId": app,
            "Id": secrets.token_hex(4)[:7],
            "Name": body["Name"],
            "Description": body.get("Description", ""),
            "State": "READY_FOR_DEPLOYMENT",
            "Monitors": body.get("Monitors", []),
        }
        with self._state.lock:
            self._state.environments[(app, env["Id"])] = env
        return 201, env

    def get_environment(self, app: str, env: str) -> tuple[int, dict[str, Any]]:
        self._check_app(app)
        with self._state.lock:
            found = dict(self._environment(app, env))
            running = any(
                d.state() != "COMPLETE" for d in self._state.deployments.get((app, found["Id"]), [])
            )
        found["State"] = "DEPLOYING" if running else "READY_FOR_DEPLOYMENT"
        return 200, found

    def create_strategy(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        for required in ("Name", "DeploymentDurationInMinutes", "GrowthFactor"):
            if required not in body:
                raise _bad_request(f"{required} is required")
        strategy = {
            "Id": secrets.token_hex(4)[:7],
            "Name": body["Name"],
            "Description": body.get("Description", ""),
            "DeploymentDurationInMinutes": int(body["DeploymentDurationInMinutes"]),
            "GrowthType": body.get("GrowthType", "LINEAR"),
            "GrowthFactor": float(body["GrowthFactor"]),
            "FinalBakeTimeInMinutes": int(body.get("FinalBakeTimeInMinutes", 0)),
            "ReplicateTo": body.get("ReplicateTo", "NONE"),
        }
        with self._state.lock:
            self._state.strategies[strategy["Id"]] = strategy
        return 201, strategy

    def start_deployment(
        self, app: str, env_ident: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        for required in ("DeploymentStrategyId", "ConfigurationProfileId", "ConfigurationVersion"):
            if not body.get(required):
                raise _bad_request(f"{required} is required")
        self._check_app(app)
        profile_id, version = body["ConfigurationProfileId"], str(body["ConfigurationVersion"])
        profile = self._profile(app, profile_id)
        path = f"/applications/{app}/configurationprofiles/{profile_id}"
        status, headers, content = self._lookup(f"{path}/hostedconfigurationversions/{version}")
        if status != 200:
            raise _not_found("ConfigurationVersion", version, "Configuration")
        header = {k.lower(): v for k, v in headers}
        with self._state.lock:
            env = self._environment(app, env_ident)
            strategy = self._state.strategies.get(body["DeploymentStrategyId"])
            if strategy is None:
                raise _not_found("DeploymentStrategy", body["DeploymentStrategyId"], "Deployment")
            history = self._state.deployments.setdefault((app, env["Id"]), [])
            if history and history[-1].state() != "COMPLETE":
                raise ApiError(
                    409,
                    "ConflictException",
                    f"Deployment {history[-1].number} is in progress on environment {env['Id']}",
                )
            now = time.time()
            minutes = strategy["DeploymentDurationInMinutes"] + strategy["FinalBakeTimeInMinutes"]
            deployment = _Deployment(
                number=len(history) + 1,
                body={
                    "ApplicationId": app,
                    "EnvironmentId": env["Id"],
                    "DeploymentStrategyId": strategy["Id"],
                    "ConfigurationProfileId": profile_id,
                    "ConfigurationName": profile.get("Name", ""),
                    "ConfigurationLocationUri": profile.get("LocationUri", "hosted"),
                    "ConfigurationVersion": version,
                    "Description": body.get("Description", ""),
                    "DeploymentDurationInMinutes": strategy["DeploymentDurationInMinutes"],
                    "GrowthType": strategy["GrowthType"],
                    "GrowthFactor": strategy["GrowthFactor"],
                    "FinalBakeTimeInMinutes": strategy["FinalBakeTimeInMinutes"],
                    "StartedAt": now,
                },
                content=content,
                content_type=header.get("content-type", "application/octet-stream"),
                version_label=header.get("versionlabel", ""),
                started=now,
                ends=now + 60 * minutes,
            )
            deployment.body["DeploymentNumber"] = deployment.number
            history.append(deployment)
        return 201, self._deployment_json(deployment)

    def get_deployment(self, app: str, env_ident: str, number: str) -> tuple[int, dict[str, Any]]:
        self._check_app(app)
        with self._state.lock:
            env = self._environment(app, env_ident)
            history = self._state.deployments.get((app, env["Id"]), [])
            if not number.isdigit() or not 0 < int(number) <= len(history):
                raise _not_found("Deployment", number, "Deployment")
            return 200, self._deployment_json(history[int(number) - 1])

    @staticmethod
    def _deployment_json(deployment: _Deployment) -> dict[str, Any]:
        state = deployment.state()
        done = state == "COMPLETE"
        extra = {"CompletedAt": deployment.ends} if done else {}
        return {
            **deployment.body,
            "State": state,
            "PercentageComplete": 100.0 if done else 1.0,
            **({"VersionLabel": deployment.version_label} if deployment.version_label else {}),
            **extra,
        }

    # ------------------------------------------------------------------ appconfigdata

    def start_session(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        names = ("ApplicationIdentifier", "EnvironmentIdentifier", "ConfigurationProfileIdentifier")
        if not all(body.get(n) for n in names):
            raise _bad_request(
                "ApplicationIdentifier, EnvironmentIdentifier and "
                "ConfigurationProfileIdentifier are required"
            )
        app, env_ident, profile = (str(body[n]) for n in names)
        poll_s = body.get("RequiredMinimumPollIntervalInSeconds", 60)
        if not isinstance(poll_s, int) or not 15 <= poll_s <= 86400:
            raise _bad_request("RequiredMinimumPollIntervalInSeconds must be 15 to 86400")
        self._check_app(app)
        self._profile(app, profile)
        with self._state.lock:
            env = self._environment(app, env_ident)
            token = secrets.token_urlsafe(24)
            self._state.tokens[token] = _Session(app, env["Id"], profile, poll_s, 0)
        return 201, {"InitialConfigurationToken": token}

    def latest_configuration(self, token: str) -> tuple[int, dict[str, str], bytes]:
        with self._state.lock:
            session = self._state.tokens.pop(token, None)  # a token is good for one call
            if session is None:
                raise _bad_request("The configuration token is invalid or was already used")
            latest = next(
                (
                    d
                    for d in reversed(self._state.deployments.get((session.app, session.env), []))
                    if d.body["ConfigurationProfileId"] == session.profile
                ),
                None,
            )
            fresh = latest is not None and latest.number > session.seen
            next_token = secrets.token_urlsafe(24)
            seen = latest.number if latest else 0
            self._state.tokens[next_token] = replace(session, seen=seen)
        advice = session.poll_s if self.poll_interval_s is None else self.poll_interval_s
        headers = {
            "Next-Poll-Configuration-Token": next_token,
            "Next-Poll-Interval-In-Seconds": str(advice),
        }
        if latest is None or not fresh:
            return 200, headers, b""  # unchanged since the last call: an empty body
        headers["Content-Type"] = latest.content_type
        if latest.version_label:
            headers["Version-Label"] = latest.version_label
        return 200, headers, latest.content


_Route = tuple[str, re.Pattern[str], Callable[..., tuple[int, dict[str, Any]]]]


class _Handler(BaseHTTPRequestHandler):
    owner: AppConfigFake
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Quiet: tests read assertions, not access logs."""

    def _routes(self) -> list[_Route]:
        o = self.owner
        return [
            ("POST", re.compile(r"/applications/([^/]+)/environments"), o.create_environment),
            ("GET", re.compile(r"/applications/([^/]+)/environments/([^/]+)"), o.get_environment),
            ("POST", re.compile(r"/deploymentstrategies"), o.create_strategy),
            (
                "POST",
                re.compile(r"/applications/([^/]+)/environments/([^/]+)/deployments"),
                o.start_deployment,
            ),
            (
                "GET",
                re.compile(r"/applications/([^/]+)/environments/([^/]+)/deployments/([^/]+)"),
                o.get_deployment,
            ),
            ("POST", re.compile(r"/configurationsessions"), o.start_session),
        ]

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        try:
            if method == "GET" and url.path == "/configuration":
                token = parse_qs(url.query).get("configuration_token", [""])[0]
                status, headers, body = self.owner.latest_configuration(token)
                self._reply(status, list(headers.items()), body)
                return
            for verb, pattern, handler in self._routes():
                match = pattern.fullmatch(url.path)
                if verb == method and match:
                    args: list[Any] = list(match.groups())
                    if method == "POST":
                        args.append(json.loads(raw or b"{}"))
                    status, document = handler(*args)
                    self._json(status, document)
                    return
            status, headers, body = self.owner.forward(method, self.path, dict(self.headers), raw)
            kept = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]
            self._reply(status, kept, body)
        except ApiError as exc:
            self._json(exc.status, exc.body, [("x-amzn-ErrorType", exc.error_type)])
        except json.JSONDecodeError:
            self._json(
                400,
                {"Message": "The request body is not JSON"},
                [("x-amzn-ErrorType", "BadRequestException")],
            )

    def _json(
        self, status: int, document: dict[str, Any], headers: list[tuple[str, str]] | None = None
    ) -> None:
        body = json.dumps(document).encode()
        self._reply(status, [("Content-Type", "application/json"), *(headers or [])], body)

    def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("x-amzn-RequestId", secrets.token_hex(16))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
