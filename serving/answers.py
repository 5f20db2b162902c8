"""Answers kept until the graph changes.

An explained recommendation costs a statement that re-checks every relationship of its paths
and the building of a few dozen path objects; asked again while nothing in the database has
changed, the answer is byte for byte the same. Neo4j tells whether anything changed: every
transaction, read-only ones included, ends with a bookmark naming the database's last
committed transaction, so two equal bookmarks mean no write committed in between.

An answer is kept only when the bookmark observed *before* its transaction began equals the
one its transaction ended with (no write could have slipped in while it was read), and served
again only after an empty read transaction has ended with that same bookmark. A kept answer
is therefore exactly what a fresh read would return, at the cost of one empty round trip.

The database only moves forward, so once any transaction ends at a new state no kept answer
can be served again: every one is dropped then (an erased user's answers leave memory at the
next lookup of each worker).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

#: a database state: the raw values of a transaction's bookmarks
State = frozenset[str]


class AnswerCache:
    """Encoded answers by key, each with the database state it was read at; the least
    recently used go first once ``capacity`` are kept. Thread-safe (sync routes run in a
    thread pool)."""

    def __init__(self, capacity: int = 4096):
        self.capacity = capacity
        self._answers: OrderedDict[Hashable, tuple[State, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._latest: State | None = None

    @property
    def latest(self) -> State | None:
        """The state the most recent transaction of this process ended at."""
        return self._latest

    def observe(self, state: State) -> None:
        """A transaction ended at ``state``: a new one drops every kept answer."""
        with self._lock:
            if state != self._latest:
                self._answers.clear()
                self._latest = state

    def get(self, key: Hashable) -> tuple[State, bytes] | None:
        with self._lock:
            found = self._answers.get(key)
            if found is not None:
                self._answers.move_to_end(key)
            return found

    def put(self, key: Hashable, state: State, answer: bytes) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            if state != self._latest:  # the database has moved on while it was read
                return
            self._answers[key] = (state, answer)
            self._answers.move_to_end(key)
            while len(self._answers) > self.capacity:
                self._answers.popitem(last=False)
