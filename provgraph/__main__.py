"""``python -m provgraph``: the ``provgraph`` command."""

from __future__ import annotations

import sys

from provgraph.cli.main import main

sys.exit(main())
