"""The CEL library, imported when a policy is first compiled or evaluated.

Importing ``cel`` costs about 170 ms (its package also loads an interactive shell and its
terminal toolkit). A Host with no policy never needs it, and every Host's start-up counts
against DESIGN §12's 1.5 s to the first served call.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType


@functools.cache
def cel() -> ModuleType:
    """The ``cel`` module (imported on the first call)."""
    return importlib.import_module("cel")
