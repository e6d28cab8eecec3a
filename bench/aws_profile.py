"""The governed call on the AWS profile versus the local profile, same 3-process mTLS topology.

Issue 5 / DESIGN §2 principle 2: the per-call path never waits on AWS. Two Hosts run the same
manifest, access rules and gateway limits; one on ``profile = "local"`` (SQLite files), one on
``profile = "aws"`` against the AWS test double (moto in server mode plus the CloudTrail Lake
and AppConfig fakes) running in a process of its own. Each figure is printed for both, with the
ratio aws / local. If the call path waited on AWS, every call would pay at least one HTTP
round trip to the double (about 7 ms for a DynamoDB read in moto, notes/dependencies.md §B).

Run: ``.venv/bin/python bench/aws_profile.py`` (``--quick`` for a short smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent))

from _common import Child, ChildFailed, Noise, machine_lines, render_table, rss_mib  # noqa: E402
from _figures import write_figures  # noqa: E402
from call_latency import (  # noqa: E402
    BENCH_ACCESS,
    ECHO_CONTRACT,
    READY_LINE,
    Settings,
    Variant,
    _ratio,
    measure,
    variant_figures,
)

from aesp.certs import init_dev_pki  # noqa: E402
from tests.aws_doubles.moto_server import use_test_credentials  # noqa: E402


def _toml_value(value: object) -> str:
    """A TOML value for the adapter table (strings, numbers, booleans, string tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        inner = ", ".join(f'"{k}" = {_toml_value(v)}' for k, v in value.items())
        return "{ " + inner + " }"
    return json.dumps(value)


def _write_config(root: Path, pki: Path, name: str, adapters: dict[str, object] | None) -> Path:
    manifest = root / "manifest.json"
    manifest.write_text(
        json.dumps({"manifest_version": "1.0.0", "contracts": [ECHO_CONTRACT]}), encoding="utf-8"
    )
    lines = [
        "[host]",
        'mode = "STRICT"',
        f'manifest_path = "{manifest}"',
        'client_listen = "127.0.0.1:0"',
        'runtime_listen = "127.0.0.1:0"',
        f'data_dir = "{root / ("data-" + name)}"',
        "",
        "[tls]",
        f'ca = "{pki / "ca.pem"}"',
        f'cert = "{pki / "host.pem"}"',
        f'key = "{pki / "host.key"}"',
        "",
    ]
    if adapters is not None:
        lines += ["[profile]", 'default = "aws"', "", "[adapters.aws]"]
        lines += [f"{key} = {_toml_value(value)}" for key, value in adapters.items()]
        lines.append("")
    config = root / f"host-{name}.toml"
    config.write_text("\n".join(lines) + BENCH_ACCESS, encoding="utf-8")
    return config


def _start(root: Path, pki: Path) -> tuple[list[Child], list[Variant]]:
    py = sys.executable
    children: list[Child] = []
    double = Child("aws double", [py, "-m", "tests.aws_doubles.serve"], root / "double.log")
    children.append(double)
    table = json.loads(double.wait_for_line(r"adapters\.aws = (?P<t>\{.*\})", timeout=60)["t"])
    variants: list[Variant] = []
    for name, adapters in (("local", None), ("aws", table)):
        config = _write_config(root, pki, name, adapters)
        host = Child(
            f"host ({name})",
            [py, "-m", "aesp", "serve", "--config", str(config)],
            root / f"host-{name}.log",
        )
        children.append(host)
        ready = host.wait_for_line(READY_LINE, timeout=120)
        runtime = Child(
            f"runtime ({name})",
            [
                py,
                "-m",
                "aesp",
                "runtime",
                str(BENCH_DIR / "bench_tools.py"),
                "--target",
                f"{ready['rh']}:{ready['rp']}",
                "--pki",
                str(pki),
                "--name",
                "bench",
                "--runtime-id",
                f"bench-{name}",
            ],  # fmt: skip
            root / f"runtime-{name}.log",
        )
        children.append(runtime)
        variants.append(Variant(name, host, runtime, f"{ready['ch']}:{ready['cp']}"))
    return children, variants


def report(local: Variant, aws: Variant) -> str:
    rows: list[list[str]] = []
    for key, which, label, unit in (
        ("c1", "p50_us", "latency p50, concurrency 1", "µs"),
        ("c1", "p99_us", "latency p99, concurrency 1", "µs"),
        ("c16", "p50_us", "latency p50, concurrency 16", "µs"),
        ("c16", "p99_us", "latency p99, concurrency 16", "µs"),
        ("c64", "rate", "throughput, concurrency 64", "/s"),
    ):
        a, b = aws.figure(key, which), local.figure(key, which)
        rows.append([label, f"{a:,.0f} {unit}", f"{b:,.0f} {unit}", f"{_ratio(a, b):.2f}×"])
    a, b = aws.cpu("c64", "middle"), local.cpu("c64", "middle")
    rows.append(
        ["Host CPU per call at c=64", f"{a:,.0f} µs", f"{b:,.0f} µs", f"{_ratio(a, b):.2f}×"]
    )
    return render_table(["figure", "aws profile", "local profile", "aws / local"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Governed call: AWS profile vs local profile.")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--calls", type=int, help="sequential calls (default 2000; quick 200)")
    parser.add_argument("--calls16", type=int, help="calls at concurrency 16 (default 8000)")
    parser.add_argument("--duration", type=float, help="seconds at concurrency 64 (default 10)")
    parser.add_argument("--warmup", type=int, help="warm-up calls per Host (default 500)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat; the table shows medians")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    args.profile = False
    settings = Settings.from_args(args)
    print("aesp governed call: AWS profile (against the AWS test double) vs local profile")
    for line in machine_lines():
        print(line)
    use_test_credentials()  # the Host's boto3 clients talk to the double, never to AWS
    root = Path(tempfile.mkdtemp(prefix="aesp-bench-aws-"))
    children: list[Child] = []
    try:
        pki_dir = root / "pki"
        pki = init_dev_pki(pki_dir, runtimes=["bench"], clients=["bench"])
        cert, key = pki.client("bench")
        pems = (pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes())
        started = time.monotonic()
        children, variants = _start(root, pki_dir)
        print(f"  processes started in {time.monotonic() - started:.1f} s")
        noise = Noise([os.getpid(), *(c.pid for c in children)])
        asyncio.run(measure(variants, settings, pems))
        others, stolen = noise.summary()
        for v in variants:
            v.middle_rss_mib = rss_mib(v.middle.pid)
        local, aws = variants
        print()
        print(report(local, aws))
        print(
            f"\nwhile measuring, other processes used {others:.2f} CPUs on average and the "
            f"hypervisor stole {stolen:.2f}"
        )
        if others > 0.2 or stolen > 0.2:
            print("WARNING: the machine was not quiet; figures (ratios included) are unreliable")
        errors = sum(v.errors for v in variants)
        if errors:
            print(f"WARNING: {errors} calls failed; see the logs (run with --keep)")
        if args.json:
            write_figures(
                args.json,
                "aws_profile",
                {v.name: variant_figures(v) for v in variants},
                quick=args.quick,
                rounds=settings.rounds,
                failed_calls=errors,
                others_cpus=others,
                stolen_cpus=stolen,
            )
    except ChildFailed as exc:
        print(f"benchmark could not run: {exc}", file=sys.stderr)
        return 1
    finally:
        for child in reversed(children):
            # A Host gives its ports up to 15 s to flush at stop (host.STOP_BUDGET_S), plus
            # 5 s for audit copies; 30 s is the grace the operator's guide asks for.
            began = time.monotonic()
            child.stop(timeout=30.0)
            if child.name.startswith("host"):
                print(f"  {child.name} stopped in {time.monotonic() - began:.1f} s")
        if args.keep:
            print(f"\nfiles kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
