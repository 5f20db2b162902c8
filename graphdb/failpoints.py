"""Named kill points for the fault-injection suite (``tests/faults``), in the spirit of
FreeBSD's fail(9) and TiKV's fail-rs: a job calls :func:`reach` at the moments a crash would
hurt most (after a batch is committed, between a run's switch and its cleanup, between a new
folder and the switch to it), and a test sets ``INTERESTGRAPH_KILL_AT=NAME:N`` so that the
process SIGKILLs itself the N-th time it reaches ``NAME``. Unset (every normal run), a call is
one environment lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

#: times each point was reached in this process (the one piece of state the seam needs)
_reached: Counter[str] = Counter()


def reach(name: str) -> None:
    """Count one pass through ``name``; SIGKILL this process if the test asked for this pass."""
    spec = os.environ.get("INTERESTGRAPH_KILL_AT")
    if not spec:
        return
    point, _, times = spec.partition(":")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] >= int(times or 1):
        os.kill(os.getpid(), signal.SIGKILL)
