"""``aesp runtime`` and ``aesp contracts promote`` import tool modules by dotted name from the
current folder or by file path; a module that cannot be imported is one clear line, no traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from aesp.cli import load_tool_module


def test_a_dotted_name_imports_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "shop_tools_for_cli_test.py").write_text("VALUE = 42\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    module = load_tool_module("shop_tools_for_cli_test")
    assert module.VALUE == 42  # type: ignore[attr-defined]


def test_an_unknown_module_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as caught:
        load_tool_module("no_such_tools_module")
    message = str(caught.value)
    assert message.startswith("aesp: cannot import 'no_such_tools_module'")
    assert "path to a .py file" in message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="does not exist"):
        load_tool_module(str(tmp_path / "missing.py"))
