"""Whether a process still runs, for the jobs that must tell a live peer from a dead one: the
predict lock's holder, a folder's concurrent writer, the local Neo4j's launcher."""

from __future__ import annotations

import os


def pid_running(pid: int) -> bool:
    """True if ``pid`` exists on this host (signal 0 checks and sends nothing); a process of
    another user counts as running. A zombie counts too: callers that must not wait on their
    own unreaped children check for that themselves (``graphdb.local``)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
