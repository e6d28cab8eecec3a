"""``aesp audit``: verify an exported audit log offline, and export the Host's log.

``aesp audit verify FILE --public-key KEY`` needs nothing but the file and the public key
(DESIGN §2 principle 5); KEY is PEM or DER, Ed25519 (the Host's local key) or ECDSA P-256 (a
cloud key service's checkpoint key, e.g. the DER of AWS KMS ``GetPublicKey``). Exit status: 0 the log verifies, 1 it does not (the first bad entry is
printed), 2 the file or a key cannot be read. ``aesp audit export --data-dir DIR`` streams the
Host's log (``DIR/audit.jsonl``) as verifiable JSON lines or as CSV.

``aesp.cli`` wires this in with :func:`add_audit_commands`; ``python -m aesp.cli_audit verify
...`` runs it on its own.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["add_audit_commands", "main"]

LOG_FILE = "audit.jsonl"  # the name build_host gives the log under data_dir


def add_audit_commands(subparsers: Any) -> None:
    """Add ``audit verify`` and ``audit export`` to the ``aesp`` command's subparsers.

    Each sets ``func`` (``args.func(args) -> int``), the convention of :mod:`aesp.cli`.
    """
    audit = subparsers.add_parser("audit", help="verify, export or query the audit log")
    _add_actions(audit)


def _add_actions(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="audit_command", required=True)
    verify = actions.add_parser(
        "verify", help="check an exported audit log offline with the public key alone"
    )
    verify.add_argument("file", type=Path, help="the exported log (JSON lines)")
    verify.add_argument(
        "--public-key",
        type=Path,
        action="append",
        required=True,
        help=(
            "public key that signed the checkpoints, PEM or DER SubjectPublicKeyInfo: the "
            "Host's Ed25519 audit_signing.pub, or an ECDSA P-256 key service key (e.g. the "
            "DER that AWS KMS GetPublicKey returns, saved to a file); repeat for keys used "
            "before a rotation"
        ),
    )
    verify.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        default=[],
        help="JSON lines of checkpoints you already trust; the file must reach them unchanged",
    )
    verify.add_argument(
        "--require-checkpointed",
        action="store_true",
        help="fail when leaves follow a tenant's last checkpoint (an export of a stopped Host)",
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(func=_verify)

    export = actions.add_parser("export", help="stream the Host's audit log")
    export.add_argument("--data-dir", type=Path, required=True, help="the Host's data_dir")
    export.add_argument("--tenant", help='only this tenant ("" = system events)')
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument("--out", type=Path, help="write here instead of standard output")
    export.set_defaults(func=_export)

    from aesp.cli_audit_query import add_audit_query_command  # imports aesp.cli: keep it lazy

    add_audit_query_command(actions)


def _verify(args: argparse.Namespace) -> int:
    from aesp.core.audit_keys import Checkpoint, CheckpointError, load_public_key
    from aesp.core.audit_verify import verify_file

    try:
        keys = [load_public_key(path) for path in args.public_key]
        trusted = [
            Checkpoint.from_record(json.loads(line))
            for path in args.checkpoint
            for line in path.read_text().splitlines()
            if line.strip()
        ]
        report = verify_file(
            args.file, keys, trusted=trusted, require_covered=args.require_checkpointed
        )
    except (OSError, ValueError) as exc:  # CheckpointError is a ValueError
        kind = "trusted checkpoint" if isinstance(exc, CheckpointError) else "input"
        print(f"aesp audit verify: cannot read the {kind}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(_describe(report))
    return 0 if report.valid else 1


def _describe(report: Any) -> str:
    verdict = "VALID" if report.valid else "INVALID"
    lines = [
        f"{report.path}: {verdict} ({report.lines} lines read, {report.leaves} leaves, "
        f"{report.checkpoints} signed checkpoints)"
    ]
    if report.bad is not None:
        lines.append(f"  first bad entry: {report.bad}")
    for t in report.tenants:
        tail = t.leaves - t.checkpointed
        line = f"  {t.origin}: {t.leaves} leaves, {t.checkpointed} covered by a checkpoint"
        if tail:
            line += f"; {tail} not yet covered by a checkpoint"
        lines.append(line)
    return "\n".join(lines)


def _export(args: argparse.Namespace) -> int:
    from aesp.core.audit_export import export_csv, export_json

    source = args.data_dir / LOG_FILE
    try:
        if args.format == "json":
            if args.out is None:
                count = export_json(source, sys.stdout.buffer, args.tenant)
            else:
                with args.out.open("wb") as out:
                    count = export_json(source, out, args.tenant)
        elif args.out is None:
            count = export_csv(source, sys.stdout, args.tenant)
        else:
            with args.out.open("w", newline="", encoding="utf-8") as out:
                count = export_csv(source, out, args.tenant)
    except (OSError, ValueError) as exc:
        print(f"aesp audit export: cannot export {source}: {exc}", file=sys.stderr)
        return 2
    sys.stdout.flush()
    if args.out is not None:
        print(f"exported {count} records to {args.out}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``aesp audit ...`` with ``argv`` (without the leading ``audit``)."""
    parser = argparse.ArgumentParser(prog="aesp audit", description=__doc__.splitlines()[0])
    _add_actions(parser)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
