"""Job locks kept in the graph: one ``(:JobLock {id})`` node per kind of job that must not run
twice at once (``predict``: a second copy would delete the first one's ``writing`` run).

The holder writes its owner token, host and pid, and refreshes ``heartbeat`` every
``heartbeat_seconds`` from a background thread. Whoever finds the lock held waits (``wait``
seconds) or fails with a message naming the holder. A lock whose holder died is taken over: at
once when the holder ran on this host and its pid is gone (a killed job re-run at once must not
wait), otherwise once its heartbeat is ``stale_seconds`` old. Writes the job must only make
while it holds the lock call :meth:`JobLock.assert_held` inside their own transaction, which
write-locks the lock node: a takeover cannot commit between that check and the write.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

from neo4j import Driver, ManagedTransaction
from neo4j.exceptions import DriverError, Neo4jError

from graphdb.errors import GraphDBError
from graphdb.processes import pid_running

CLAIM = """
MERGE (l:JobLock {id: $name})
ON CREATE SET l.owner = $owner, l.host = $host, l.pid = $pid, l.since = datetime($now),
              l.heartbeat = datetime($now)
SET l.checked = datetime($now)
RETURN l.owner AS owner, l.host AS host, l.pid AS pid, l.since AS since,
       duration.inSeconds(l.heartbeat, datetime($now)).seconds AS silent
"""

TAKE_OVER = """
MATCH (l:JobLock {id: $name})
SET l.owner = $owner, l.host = $host, l.pid = $pid, l.since = datetime($now),
    l.heartbeat = datetime($now)
"""

HEARTBEAT = """
MATCH (l:JobLock {id: $name, owner: $owner})
SET l.heartbeat = datetime($now)
RETURN count(l) AS held
"""

RELEASE = "MATCH (l:JobLock {id: $name, owner: $owner}) DELETE l"


class LockHeld(GraphDBError):
    """Another live job holds the lock."""


class LockLost(GraphDBError):
    """This job's lock was taken over (its heartbeat stopped for too long)."""


def _now() -> str:
    return datetime.now(UTC).isoformat()


class JobLock:
    """A held lock: its name and owner token, for :meth:`assert_held`."""

    def __init__(self, driver: Driver, name: str, database: str | None):
        self.driver = driver
        self.name = name
        self.database = database
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.took_over: dict[str, Any] | None = None

    def assert_held(self, tx: ManagedTransaction) -> None:
        """Inside a write transaction: refresh the heartbeat, or raise :class:`LockLost`."""
        held = tx.run(HEARTBEAT, name=self.name, owner=self.owner, now=_now()).single(strict=True)
        if not held["held"]:
            raise LockLost(
                f"the {self.name} lock was taken over by another job (this one's heartbeat "
                "stopped for too long); nothing more is written, run the job again"
            )

    def _claim(self, stale_seconds: float) -> dict[str, Any] | None:
        """Take the lock if free, ours, or its holder is dead; else the holder's record."""
        host, pid = socket.gethostname(), os.getpid()

        def work(tx: ManagedTransaction) -> dict[str, Any] | None:
            params = {"name": self.name, "owner": self.owner, "host": host, "pid": pid}
            holder = tx.run(CLAIM, now=_now(), **params).single(strict=True).data()
            if holder["owner"] == self.owner:
                return None
            gone = holder["host"] == host and not pid_running(int(holder["pid"]))
            dead = gone or holder["silent"] >= stale_seconds
            if not dead:
                return holder
            tx.run(TAKE_OVER, now=_now(), **params).consume()
            self.took_over = {k: holder[k] for k in ("owner", "silent")}
            return None

        with self.driver.session(database=self.database) as session:
            return session.execute_write(work)

    def _release(self) -> None:
        self.driver.execute_query(
            RELEASE, name=self.name, owner=self.owner, database_=self.database
        )


@contextmanager
def job_lock(
    driver: Driver,
    name: str,
    database: str | None = None,
    wait: float = 0.0,
    stale_seconds: float = 60.0,
    heartbeat_seconds: float = 10.0,
) -> Iterator[JobLock]:
    """Hold the ``name`` lock for the ``with`` block (see the module docstring)."""
    lock = JobLock(driver, name, database)
    deadline = time.monotonic() + wait
    while (holder := lock._claim(stale_seconds)) is not None:
        if time.monotonic() >= deadline:
            raise LockHeld(
                f"another {name} job holds the lock: {holder['owner']} (host {holder['host']}, "
                f"pid {holder['pid']}), since {holder['since']}, last heartbeat "
                f"{holder['silent']} s ago; wait for it (--wait SECONDS), or, if it died on "
                f"another host, it is taken over once its heartbeat is {stale_seconds:.0f} s old"
            )
        time.sleep(min(2.0, max(0.1, deadline - time.monotonic())))
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(heartbeat_seconds):
            # Neo4j away: the job's own writes fail and say so; beat again later
            with suppress(Neo4jError, DriverError):
                driver.execute_query(
                    HEARTBEAT, name=name, owner=lock.owner, now=_now(), database_=database
                )

    beating = threading.Thread(target=beat, name=f"{name}-lock-heartbeat", daemon=True)
    beating.start()
    try:
        yield lock
    except DriverError:
        # Neo4j is gone: releasing would only wait out the driver's retries first. The lock
        # stays, and the re-run takes it over at once (same host, this pid gone).
        stop.set()
        raise
    except BaseException:
        stop.set()
        with suppress(Neo4jError, DriverError):
            lock._release()
        raise
    stop.set()
    beating.join()
    lock._release()
