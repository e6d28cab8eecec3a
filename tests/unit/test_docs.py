"""The documentation stays true to the code: the generated configuration reference is current,
relative links resolve, and every ``aesp`` command the guides show exists.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from aesp import certs, cli

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [*DOCS, ROOT / "README.md"]
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_SPAN = re.compile(r"`([^`\n]+)`")
_COMMAND = re.compile(r"^(?:\$ )?(?:\S*/)?aesp((?: [a-z][a-z-]*){1,2})")
_SHELL = ("bash", "sh", "console", "shell")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_config_reference", ROOT / "scripts" / "gen_config_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    return module


def test_config_reference_is_current() -> None:
    committed = (ROOT / "docs" / "config-reference.md").read_text(encoding="utf-8")
    assert committed == _generator().render(), (
        "docs/config-reference.md is stale: run scripts/gen_config_reference.py"
    )


def test_config_reference_names_every_section_and_key() -> None:
    from dataclasses import fields

    from aesp.core import config

    text = (ROOT / "docs" / "config-reference.md").read_text(encoding="utf-8")
    for name, cls in config._SECTIONS.items():
        assert f"## `[{name}]`" in text
        for f in fields(cls):
            assert f"| `{f.name}` |" in text, f"[{name}] {f.name} missing"
    for key in ("[access]", "[adapters.<profile>]", "config.poll_interval_ms"):
        assert key in text


def test_attribute_docs_reads_continuation_lines() -> None:
    class Sample:
        """Summary.

        Attributes:
            first: One line.
            second: Starts here
                and goes on.
        """

    assert _generator().attribute_docs(Sample) == {
        "first": "One line.",
        "second": "Starts here and goes on.",
    }


def _links(page: Path) -> Iterator[str]:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    for match in _LINK.finditer(text):
        yield match.group(1)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in _links(page):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path, _, anchor = target.partition("#")
        file = page.parent / path
        heading_missing = anchor and file.suffix == ".md" and anchor not in _anchors(file)
        if not file.exists() or heading_missing:
            broken.append(target)
    assert not broken, f"{page.name}: links to missing files or headings: {broken}"


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for the headings of ``page``."""
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    headings = re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^a-z0-9 _-]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _command_tree() -> dict[str, set[str] | None]:
    """Each top-level subcommand and its own subcommands (None: it takes none)."""
    tree: dict[str, set[str] | None] = {}
    for name, parser in _subcommands(cli._parser()).items():
        subs = _subcommands(certs._parser() if name == "certs" else parser)
        tree[name] = set(subs) or None
    return tree


def _commands(page: Path) -> Iterator[list[str]]:
    """The ``aesp`` invocations of a page: shell code blocks and inline code spans."""
    text = page.read_text(encoding="utf-8")
    lines: list[str] = []
    for fence in _FENCE.finditer(text):
        if fence.group(1) in _SHELL:
            block = fence.group(2).splitlines()
            if fence.group(1) == "console":
                block = [line for line in block if line.startswith("$ ")]
            lines += block
    lines += _SPAN.findall(_FENCE.sub("", text))
    for line in lines:
        match = _COMMAND.match(line.strip())
        if match:
            yield match.group(1).split()


def test_command_tree_is_read_from_the_parser() -> None:
    tree = _command_tree()
    assert tree["audit"] == {"verify", "export", "query"}
    assert tree["certs"] == {"init", "issue"}
    assert tree["serve"] is None


def _unknown_commands(page: Path) -> list[str]:
    """The ``aesp`` invocations of ``page`` that the command's parser does not know."""
    tree = _command_tree()
    unknown = []
    for words in _commands(page):
        subs = tree.get(words[0], set())
        if words[0] not in tree or (subs is not None and len(words) > 1 and words[1] not in subs):
            unknown.append(" ".join(words))
    return unknown


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_aesp_command_shown_exists(page: Path) -> None:
    unknown = _unknown_commands(page)
    assert not unknown, f"{page.name} shows commands `aesp --help` lacks: {unknown}"


def test_guides_show_commands() -> None:
    for name in ("quickstart", "operator-guide", "tool-author-guide", "auditor-guide"):
        assert list(_commands(ROOT / "docs" / f"{name}.md")), f"{name}.md shows no aesp command"


def test_checks_catch_broken_links_and_unknown_commands(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "See [here](missing.md), [web](https://example.com) and [a](page.md#no-such).\n"
        "Run `aesp audit verfy log.jsonl` or `aesp serve --config x`.\n"
        "```bash\n.venv/bin/aesp contracts promte x\n```\n"
        "```text\naesp host ready: clients on 127.0.0.1:7443\n```\n",
        encoding="utf-8",
    )
    assert list(_links(page)) == ["missing.md", "https://example.com", "page.md#no-such"]
    assert "see-here-web-and-a" not in _anchors(page)
    with pytest.raises(AssertionError, match="missing.md.*page.md#no-such"):
        test_relative_links_resolve(page)
    assert sorted(" ".join(w) for w in _commands(page)) == [
        "audit verfy",
        "contracts promte",
        "serve",
    ]
    assert sorted(_unknown_commands(page)) == ["audit verfy", "contracts promte"]


def test_troubleshooting_codes_exist() -> None:
    from aesp.core.errors import REGISTRY

    text = (ROOT / "docs" / "operator-guide.md").read_text(encoding="utf-8")
    table = text.split("## Troubleshooting by error code", 1)[1]
    codes = {
        c
        for row in table.splitlines()
        if row.startswith("| `")
        for c in re.findall(r"`([A-Z][A-Z_]+)`", row.split("|")[1])
    }
    assert codes, "the troubleshooting table lists no codes"
    assert not codes - set(REGISTRY), f"codes not in aesp/core/errors.py: {codes - set(REGISTRY)}"
