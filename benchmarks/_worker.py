"""Child process that runs one PyTorch baseline row for bench.py
(train_rows.WorkerRunner).

Why a separate process: crnn's kernels and PyTorch both use OpenMP, and both
ask for a library named ``libgomp.so.1``.  In one process the dynamic loader
loads it once, so whichever is imported second runs on the other's OpenMP
runtime (measured here: crnn on PyTorch's copy lost half its 2-thread speed,
PyTorch on the system copy lost ~15%).  In its own process PyTorch runs on
its own runtime, as it does for its users.

Protocol (line based, stdin/stdout): the parent starts
``python _worker.py SPEC_JSON``; the worker builds the row and prints
``ready``; then for every ``run N`` line it trains N iterations and prints
``done CHARS WALL_SECONDS CPU_SECONDS`` (timed here, so the pipe is not
timed); ``quit`` ends it.
"""

import json
import os
import sys
import time


def main() -> None:
    spec = json.loads(sys.argv[1])
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import numpy as np

    import baselines as bl
    from environment import BlasThreads
    from train_rows import BaselineTrainRunner

    ids = np.load(spec["ids_path"])
    blas = BlasThreads()
    cls = {"torch": bl.TorchRNN, "numpy": bl.NumpyVectorised, "minchar": bl.MinCharRNN}[spec["impl"]]
    runner = BaselineTrainRunner(cls, ids, spec["V"], spec["H"], spec["T"], spec["B"],
                                 spec["dtype"], spec["threads"], blas, spec["lr"])
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        n = int(cmd[1])
        c0, t0 = time.process_time(), time.perf_counter()
        chars = runner.run(n)
        t1, c1 = time.perf_counter(), time.process_time()
        out.write(f"done {chars} {t1 - t0!r} {c1 - c0!r}\n")
        out.flush()


if __name__ == "__main__":
    main()
