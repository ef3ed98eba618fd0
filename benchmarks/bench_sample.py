"""Sampling benchmarks (characters generated per second, one stream).

    python benchmarks/bench_sample.py [--quick] [--repeats N] [--json PATH] [--only-baselines] ...

Same as ``python benchmarks/bench.py sample``; see bench.py and README.md.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["sample"] + sys.argv[1:]))
