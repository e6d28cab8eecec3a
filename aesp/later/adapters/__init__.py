"""Bi-directional framework adapters for LATER (LATER §2.4, checklist 60).

Import the one you need explicitly; each requires its framework to be installed:

* :mod:`aesp.later.adapters.langchain` (``langchain-core``);
* :mod:`aesp.later.adapters.semantic_kernel` (``semantic-kernel``).
"""

from __future__ import annotations

__all__: list[str] = []
