"""``python -m provgraph._cli``: the old spelling of ``python -m provgraph``, kept so scripts that use it still run.

The command line lives in `provgraph.cli`.
"""

from __future__ import annotations

import sys

from provgraph.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
