"""Worker processes for the benchmarks that fit decoders side by side, one CPU thread each.

A forked worker inherits its parent's thread set-up, and ``torch.set_num_threads(1)`` inside it
came too late: started without ``OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1``, the first fit in each
worker of ``decoder_comparison.py`` ran many times slower than later ones, with a second
thread of each worker busy beside the first. With the two variables set before start-up, fits ran
at their normal pace. So the workers start fresh (``spawn``) with both set, whatever the shell.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

ONE_THREAD = {"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def one_thread_workers(jobs: int) -> ProcessPoolExecutor:
    """A pool of ``jobs`` freshly started workers, each sized to one thread from start-up."""
    # Read by each worker as it starts; this process's own thread pools are already sized.
    os.environ.update(ONE_THREAD)
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
