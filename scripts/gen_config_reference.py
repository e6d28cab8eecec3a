#!/usr/bin/env python3
"""Write ``docs/config-reference.md`` from the configuration dataclasses themselves.

Why generated: the keys, types and defaults live in ``aesp/core/config.py`` (and ``[access]`` in
``aesp/core/access.py``); a hand-written reference would drift from them the first time a key is
added. Descriptions come from each dataclass docstring's ``Attributes:`` entries, so the code is
the one place a setting is documented. ``tests/unit/test_docs.py`` fails when the committed file
differs from what this script writes now.

Usage: ``.venv/bin/python scripts/gen_config_reference.py`` (``--check`` only compares).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import re
import sys
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "config-reference.md"
UNDESCRIBED = "(no description in the code)"

# "The fields are those of :class:`aesp.identity.ldap.LdapSettings`": descriptions missing from a
# configuration class are then read from the class it mirrors.
_MIRRORS = re.compile(r"fields are those of\s+:class:`~?([\w.]+)`")
_LEAD = re.compile(r"^``\[[^\]]+\]``:\s*")
_ROLE = re.compile(r":\w+:`~?([\w.]+)`")
_ENTRY = re.compile(r"^(\w+)(?: \([^)]*\))?:\s*(.*)$")


def attribute_docs(cls: type) -> dict[str, str]:
    """The ``Attributes:`` entries of ``cls``'s docstring, each joined onto one line."""
    doc = inspect.getdoc(cls) or ""
    lines = doc.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Attributes:")
    except StopIteration:
        return {}
    entries: dict[str, str] = {}
    current = ""
    base_indent: int | None = None
    for line in lines[start + 1 :]:
        if not line.strip():
            current = ""
            continue
        indent = len(line) - len(line.lstrip())
        if base_indent is None:
            base_indent = indent
        if indent < base_indent:
            break
        match = _ENTRY.match(line.strip()) if indent == base_indent else None
        if match:
            current = match.group(1)
            entries[current] = match.group(2).strip()
        elif current:
            entries[current] += " " + line.strip()
    return entries


def summary(cls: type) -> str:
    """The first paragraph of ``cls``'s docstring, on one line, without a ``[table]:`` lead."""
    doc = inspect.getdoc(cls) or ""
    text = " ".join(doc.split("\n\n", 1)[0].split())
    text = _LEAD.sub("", text)
    return text[:1].upper() + text[1:]


def plain(text: str) -> str:
    """Docstring markup as Markdown: Sphinx roles become code spans."""
    return _ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", text)


def _mirrored_docs(cls: type) -> dict[str, str]:
    match = _MIRRORS.search(inspect.getdoc(cls) or "")
    if not match:
        return {}
    module_name, _, name = match.group(1).rpartition(".")
    return attribute_docs(getattr(importlib.import_module(module_name), name))


def _is_dataclass_type(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    if get_origin(hint) in (Union, types.UnionType):
        inner = [a for a in get_args(hint) if a is not type(None)]
        if len(inner) == 1 and len(get_args(hint)) == 2:
            return inner[0], True
    return hint, False


def type_name(hint: Any) -> str:
    """How a field's type reads in TOML terms."""
    hint, _ = _unwrap_optional(hint)
    origin, args = get_origin(hint), get_args(hint)
    if hint is bool:
        return "boolean"
    if hint is int:
        return "integer"
    if hint is float:
        return "number"
    if hint is str:
        return "string"
    if hint is Path:
        return "path"
    if origin is tuple:
        return "array of strings"
    if origin is Mapping:
        value = args[1]
        if get_origin(value) is tuple:
            return "table: name → array of strings"
        if _is_dataclass_type(value):
            return "table of tables"
        return f"table: name → {type_name(value)}"
    if _is_dataclass_type(hint):
        return "table"
    return str(hint)


def toml_value(value: Any) -> str:
    """A default written as it would be in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Path):
        return f'"{value.as_posix()}"'
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return (
            "{}"
            if not value
            else "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
        )
    return repr(value)


def default_text(field: dataclasses.Field[Any]) -> str:
    """The default of ``field`` as TOML, ``required``, or ``unset``."""
    if field.default is not dataclasses.MISSING:
        return "unset" if field.default is None else f"`{toml_value(field.default)}`"
    if field.default_factory is not dataclasses.MISSING:
        return f"`{toml_value(field.default_factory())}`"
    return "**required**"


@dataclasses.dataclass(frozen=True)
class Key:
    """One row of a section's table."""

    name: str
    type: str
    default: str
    description: str


@dataclasses.dataclass(frozen=True)
class Section:
    """One TOML table of the configuration file."""

    heading: str
    summary: str
    keys: tuple[Key, ...]
    note: str = ""


def _describe(cls: type, name: str, prefix: str, fallback: Mapping[str, str]) -> str:
    from aesp.core import config

    own = attribute_docs(cls)
    if name in own:
        return own[name]
    mirrored = _mirrored_docs(cls)
    if name in mirrored:
        return mirrored[name]
    if cls is config.ProfileConfig and name in config.PORTS:
        return f"Override for the {name.capitalize()} port (unset: `default`)."
    if f"{prefix}.{name}" in fallback:
        return fallback[f"{prefix}.{name}"].capitalize() + "."
    nested, _ = _unwrap_optional(get_type_hints(cls)[name])
    if _is_dataclass_type(nested):
        return summary(nested)
    return UNDESCRIBED


def walk(
    cls: type, heading: str, fallback: Mapping[str, str], skip: frozenset[str] = frozenset()
) -> Iterator[Section]:
    """``cls`` as a section, then every table nested in it, depth first in field order."""
    hints = get_type_hints(cls)
    rows: list[Key] = []
    nested: list[tuple[type, str]] = []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        hint, optional = _unwrap_optional(hints[f.name])
        description = _describe(cls, f.name, heading, fallback)
        if _is_dataclass_type(hint):
            sub = f"{heading}.{f.name}"
            state = "optional, absent by default" if optional else "always present"
            rows.append(
                Key(f.name, "table", f"[`[{sub}]`](#{_anchor(sub)}) ({state})", description)
            )
            nested.append((hint, sub))
            continue
        value = get_args(hint)[1] if get_origin(hint) is Mapping else None
        if value is not None and _is_dataclass_type(value):
            sub = f"{heading}.{f.name}.<name>"
            rows.append(
                Key(f.name, "table of tables", f"[`[{sub}]`](#{_anchor(sub)})", description)
            )
            nested.append((value, sub))
            continue
        rows.append(Key(f.name, type_name(hints[f.name]), default_text(f), description))
    yield Section(heading, summary(cls), tuple(rows))
    for sub_cls, sub_heading in nested:
        yield from walk(sub_cls, sub_heading, fallback)


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading ``[heading]``."""
    return re.sub(r"[^a-z0-9 _-]", "", f"[{heading}]".lower()).replace(" ", "-")


def sections() -> list[Section]:
    """Every table of the configuration file, in the order ``parse_config`` knows them."""
    from aesp.core import _live_keys, config

    fallback = {key: spec.doc for key, spec in _live_keys.HOST_KEYS.items() if spec.doc}
    host_skip = frozenset({*config._SECTIONS, "access", "adapters"})
    out = list(walk(config.HostConfig, "host", fallback, host_skip))
    for name, cls in config._SECTIONS.items():
        out.extend(walk(cls, name, fallback))
    out.extend(_access_sections())
    out.append(_adapters_section())
    return out


def _access_sections() -> list[Section]:
    from aesp.core import access

    top = next(walk(access.AccessConfig, "access", {}, frozenset({"roles"})))
    docs = attribute_docs(access.AccessConfig)
    roles = Key("roles", "array of tables", "[`[[access.roles]]`](#accessroles)", docs["roles"])
    role_docs = {
        "name": "The role's name.",
        "permissions": "Permissions it grants (`resource:action:scope` patterns).",
        "parents": "Roles it inherits from.",
        "tenant": "The tenant the role belongs to; empty for a platform role.",
    }
    role_types = {
        "name": "string",
        "permissions": "array of strings",
        "parents": "array of strings",
    }
    role_defaults = {"name": "**required**", "permissions": "`[]`", "parents": "`[]`"}
    role_keys = tuple(
        Key(k, role_types.get(k, "string"), role_defaults.get(k, '`""`'), role_docs[k])
        for k in access._ROLE_KEYS
    )
    return [
        dataclasses.replace(top, keys=(roles, *top.keys)),
        Section("[access.roles]", "One role created at start-up (array of tables).", role_keys),
    ]


def _adapters_section() -> Section:
    readmes = sorted(ROOT.glob("adapters/*/README.md"))
    links = ", ".join(
        f"[`[adapters.{p.parent.name}]`](../{p.relative_to(ROOT).as_posix()})" for p in readmes
    )
    from aesp.core import config

    doc = attribute_docs(config.HostConfig)["adapters"]
    return Section(
        "adapters.<profile>",
        doc,
        (),
        note=f"Each adapter documents and validates its own table: {links}.",
    )


def _live_rows() -> list[str]:
    from aesp.core import _live_keys

    rows = [
        "| key | data type | accepted values | sensitive | needs approval | what |",
        "|---|---|---|---|---|---|",
    ]
    for key in sorted(_live_keys.HOST_KEYS):
        spec = _live_keys.HOST_KEYS[key]
        if spec.choices:
            accepted = ", ".join(f"`{c}`" for c in spec.choices)
        else:
            accepted = f"{_number(spec.minimum)} to {_number(spec.maximum)}"
        approval = "yes" if spec.approval or spec.sensitive else "no"
        rows.append(
            f"| `{key}` | {spec.data_type.value} | {accepted} | "
            f"{'yes' if spec.sensitive else 'no'} | {approval} | {spec.doc} |"
        )
    return rows


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _cell(text: str) -> str:
    return plain(text).replace("|", "\\|")


def render() -> str:
    """The whole of ``docs/config-reference.md``."""
    from aesp.core import _live_keys

    out = [
        "# Configuration reference",
        "",
        "<!-- Generated by scripts/gen_config_reference.py from aesp/core/config.py,",
        "     aesp/core/access.py and aesp/core/_live_keys.py. Do not edit by hand. -->",
        "",
        "The Host reads one TOML file (`aesp serve --config aesp.toml`), validated once at",
        "start-up: an unknown key, a wrong type or a value out of range stops the Host with",
        "`INVALID_CONFIG` naming the key. Relative paths are resolved against the configuration",
        "file's folder; `host.data_dir` defaults to `.aesp` and `[tls]` to `pki/*.pem` beside it.",
        "How to use these settings: [the operator's guide](operator-guide.md).",
        "",
    ]
    all_sections = sections()
    out.append(
        "Sections: "
        + ", ".join(f"[`[{s.heading}]`](#{_anchor(s.heading)})" for s in all_sections)
        + "."
    )
    out.append("")
    for section in all_sections:
        out += [f"## `[{section.heading}]`", "", plain(section.summary), ""]
        if section.keys:
            out += ["| key | type | default | description |", "|---|---|---|---|"]
            out += [
                f"| `{k.name}` | {k.type} | {_cell(k.default)} | {_cell(k.description)} |"
                for k in section.keys
            ]
            out.append("")
        if section.note:
            out += [section.note, ""]
    out += [
        "## Live configuration (`aesp config set`)",
        "",
        "These Host keys can change while the Host runs, through `SetConfigValue`",
        "(`aesp config set KEY VALUE`); a change is in force on every replica within",
        f"`{_live_keys.POLL_KEY}` (default {_live_keys.DEFAULT_POLL_MS} ms). The server fixes",
        "each key's data type and bounds. A sensitive key is masked on read, and every change",
        "of it waits for governance approval; any change waits for approval when the caller",
        "asks for it. Every other setting of the file needs a restart.",
        "",
        *_live_rows(),
        "",
        f"Keys under `{_live_keys.APP_PREFIX}` (`{_live_keys.APP_PREFIX}<name>`) are free-form",
        "tenant keys of any data type, checked only against the type the caller names. Any",
        "other key is refused with `MALFORMED_REQUEST`.",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Write the reference, or with ``--check`` say whether the committed one is current."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.is_file() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run scripts/gen_config_reference.py")
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
