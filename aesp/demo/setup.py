"""The demo's cast and configuration: who holds which certificate, the Host's ``aesp.toml``,
and the two moves the story repeats (bob approves; the agent is refused).

Four parties, each proving who it is with a certificate of the development CA:

* ``alice`` and ``bob``: platform operators of tenant ``ops``; one asks, the other approves;
* ``agent``: an AI agent of tenant ``acme``, allowed to call the refund tool;
* the Runtime ``refunds`` of tenant ``acme``, which has the tool's code.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aesp.certs import DevPki, init_dev_pki, issue_into
from aesp.demo.stage import DemoFailed, aesp, detail, expect

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

TENANT = "acme"
OPS = "ops"
TOOL = "issue_refund"
TOOL_SOURCE = "aesp.examples.demo_tools:issue_refund"
PRICE_PER_CALL = 0.25  # USD the Host meters for each refund call
BUDGET = 0.50  # USD: room for two calls
POLICY_LIMIT = 500  # refunds above this are refused by policy


def spiffe(tenant: str, name: str) -> str:
    """The principal id the Host reads from a client certificate of the development CA."""
    return f"spiffe://aesp.local/tenant/{tenant}/client/{name}"


ALICE, BOB, AGENT = spiffe(OPS, "alice"), spiffe(OPS, "bob"), spiffe(TENANT, "agent")
ORDER = {"order_id": "ORD-1042", "reason": "parcel arrived damaged"}

# Who may do what. Every client certificate is in the group ``certificate:client``; the role
# ``platform-operator`` belongs to tenant ``ops``, so it means something only to principals of
# that tenant: the agent of ``acme`` holds the analyst role and nothing else. Kept importable
# as ``aesp.demo.DEMO_ACCESS`` because other tests serve the example tools with it.
DEMO_ACCESS = """
[access]
[access.group_roles]
"certificate:client" = ["analyst", "platform-operator"]
[access.group_clearance]
"certificate:client" = "INTERNAL"
[[access.roles]]
name = "analyst"
permissions = [
    "tool:convert_currency:invoke", "tool:word_stream:invoke", "tool:issue_refund:invoke",
]
[[access.roles]]
name = "platform-operator"
tenant = "ops"
permissions = [
    "aesp:governance:*", "aesp:policy:*", "aesp:cost:*", "aesp:platform:cross-tenant",
]
"""


@dataclass(frozen=True)
class Stage:
    """Where the demo's Host listens and where its files are."""

    workdir: Path
    pki: DevPki
    client_port: int
    runtime_port: int

    @property
    def target(self) -> str:
        return f"localhost:{self.client_port}"

    @property
    def audit_log(self) -> Path:
        return self.workdir / "data" / "audit.jsonl"

    @property
    def public_key(self) -> Path:
        return self.workdir / "data" / "audit_signing.pub"

    def as_operator(self, name: str) -> list[str]:
        """The credential and target flags of an ``aesp`` command run by ``name``."""
        return ["--pki", str(self.pki.directory), "--name", name, "--target", self.target]

    def pems(self, name: str) -> tuple[bytes, bytes, bytes]:
        """CA, certificate and key of client ``name``."""
        cert, key = self.pki.client(name)
        return self.pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes()


def make_pki(directory: Path) -> DevPki:
    """The development CA and the four parties' certificates."""
    pki = init_dev_pki(directory, tenant=TENANT, runtimes=("refunds",), clients=("agent",))
    for name in ("alice", "bob"):
        issue_into(pki.directory, "client", name, tenant=OPS)
    return pki


def write_config(stage: Stage) -> Path:
    """``aesp.toml`` and the example manifest: the Host starts trusting two example tools
    (``convert_currency``, ``word_stream``), none of the Runtime's.

    ``[governance]`` is left at its defaults, so policy and budget changes wait for a second
    operator's approval like contracts do. The refund tool costs ``PRICE_PER_CALL`` per call.
    """
    shutil.copy(EXAMPLES / "manifest.json", stage.workdir / "manifest.json")
    path = stage.workdir / "aesp.toml"
    path.write_text(
        f'[host]\nmode = "STRICT"\nmanifest_path = "manifest.json"\n'
        f'client_listen = "127.0.0.1:{stage.client_port}"\n'
        f'runtime_listen = "127.0.0.1:{stage.runtime_port}"\ndata_dir = "data"\n\n'
        '[tls]\nca = "pki/ca.pem"\ncert = "pki/host.pem"\nkey = "pki/host.key"\n\n'
        f'[cost]\ncurrency = "USD"\n[cost.tools.{TOOL}]\nprice_per_call = {PRICE_PER_CALL}\n'
        + DEMO_ACCESS
    )
    return path


def approve(stage: Stage, rid: str, tenant: str = "*") -> None:
    """Bob approves ``rid`` (a request of ``tenant``; ``*``: the platform) from a shell."""
    done = aesp(
        "approvals", "approve", rid, "--tenant", tenant, "--comment", "reviewed",
        *stage.as_operator("bob"),
        shown=f"approvals approve {rid} --tenant {shlex.quote(tenant)} --comment reviewed"
        "   # as bob",
    )  # fmt: skip
    expect(done.status == 0 and "APPROVED" in done.out, f"bob could not approve {rid}")


def refused(agent: Any, session: str, args: dict[str, Any], code: str) -> None:
    """The agent calls the refund tool and the Host must refuse it with ``code``."""
    from aesp.client import AespClientError

    try:
        result = agent.call(session, TOOL, args)
    except AespClientError as exc:
        detail(f"refused: {exc.code}\n{exc.message}\ncorrelation id {exc.correlation_id}")
        expect(exc.code == code, f"expected {code}, the Host answered {exc.code}")
        return
    raise DemoFailed(f"the call was not refused: {result.status} {result.content!r}")
