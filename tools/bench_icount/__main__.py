"""python tools/bench_icount: see report.py."""

import sys

from report import main

sys.exit(main())
