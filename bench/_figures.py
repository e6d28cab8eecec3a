"""Machine-readable output of a benchmark: its figures as one JSON file (``--json PATH``).

Why: ``bench/run_all.py`` runs every benchmark as a subprocess and assembles one table against
DESIGN §12; it reads these files rather than scraping the human tables, so the printed tables
can change without breaking the summary. Figures are plain numbers in the units their keys
name (``_us``, ``_s``, ``_per_s``, ``_mib``, ``_kib``); a figure that could not be measured
(NaN) is written as ``null`` so the file stays strict JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1


def _clean(value: Any) -> Any:
    """Replace NaN and infinities (not JSON) with None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_figures(path: Path, bench: str, figures: Mapping[str, Any], **context: Any) -> None:
    """Write ``{"format", "bench", "figures", ...context}`` to ``path``.

    ``context`` carries facts about the run that qualify the figures (``quick``, the machine's
    noise while measuring, failed calls), which the summary shows beside the table.
    """
    document = {"format": FORMAT_VERSION, "bench": bench, "figures": figures, **context}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(_clean(document), indent=2, sort_keys=True, allow_nan=False) + "\n",
        encoding="utf-8",
    )
