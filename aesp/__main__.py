"""``python -m aesp`` runs the ``aesp`` command."""

from __future__ import annotations

import sys

from aesp.cli import main

sys.exit(main())
