"""`python -m analytics ...`: the same CLI as the `analytics` console script."""

from __future__ import annotations

import sys

from analytics.cli import console_main

sys.exit(console_main())
