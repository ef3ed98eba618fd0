"""Training benchmarks (speed of every training case, then peak memory).

    python benchmarks/bench_train.py [--quick] [--repeats N] [--json PATH] [--only-baselines] ...

Same as ``python benchmarks/bench.py train``; see bench.py and README.md.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["train"] + sys.argv[1:]))
