"""Folders replaced all at once and files read back with errors that name them.

A snapshot, checkpoint or split folder is a symlink to a versioned sibling
(``.NAME.ig-PID-xxxxxxxx``, PID its writer's). A new version is written completely into a fresh
sibling, then the link is switched with one ``rename`` of a new link over it, which POSIX makes
atomic: a reader, or a process killed at any instant, sees the whole old version or the whole
new one, never neither and never half. Old versions and folders left by killed writers are
removed after the switch; a staging folder or link whose writer (the pid in its name) is still
running on this host is left alone, so two jobs writing the same folder at once (two ``train``
runs in one home) never delete each other's half-written version: the last to switch wins,
whole. A ``NAME`` that is still a real folder (written before this scheme) is moved aside
first: the one moment without a ``NAME`` happens once per folder, on its first rewrite.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from graphdb.failpoints import reach
from graphdb.processes import pid_running

T = TypeVar("T")


def _version_prefix(folder: Path) -> str:
    """Prefix of ``folder``'s sibling versions; the ``ig-`` marker keeps ``NAME.v2``'s versions
    out of ``NAME``'s."""
    return f".{folder.name}.ig-"


@contextmanager
def atomic_folder(folder: Path) -> Iterator[Path]:
    """Yield a staging folder; on success it becomes ``folder`` in one atomic switch, on any
    error it is deleted and ``folder`` is untouched."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=f"{_version_prefix(folder)}{os.getpid()}-", dir=folder.parent)
    )
    try:
        yield staging
        reach("folder.before_switch")
        _switch(folder, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    reach("folder.before_cleanup")
    _remove_other_versions(folder, staging)


def _switch(folder: Path, version: Path) -> None:
    """Point ``folder`` at ``version`` with one rename of a fresh symlink over it."""
    if folder.exists() and not folder.is_symlink():
        os.rename(folder, tempfile.mkdtemp(prefix=_version_prefix(folder), dir=folder.parent))
    link = folder.parent / f"{_version_prefix(folder)}link-{os.getpid()}"
    link.unlink(missing_ok=True)
    link.symlink_to(version.name, target_is_directory=True)
    os.replace(link, folder)


def _writer_pid(sibling: Path, prefix: str) -> int | None:
    """The pid in a staging folder's (``PID-xxxx``) or link's (``link-PID``) name; None for
    names without one (versions written before pids were recorded)."""
    rest = sibling.name[len(prefix) :]
    field = rest.removeprefix("link-") if rest.startswith("link-") else rest.split("-", 1)[0]
    return int(field) if field.isdigit() else None


def _another_live_writer(pid: int | None) -> bool:
    """Whether ``pid`` is a running process other than this one."""
    return pid is not None and pid != os.getpid() and pid_running(pid)


def _remove_other_versions(folder: Path, current: Path) -> None:
    """Delete siblings ``.NAME.ig-*`` that ``folder`` no longer points at (old versions, staging
    folders of killed writers, stale links), except what a writer still running is using."""
    prefix = _version_prefix(folder)
    for sibling in folder.parent.glob(f"{prefix}*"):
        if sibling.name == current.name or _another_live_writer(_writer_pid(sibling, prefix)):
            continue
        if sibling.is_symlink() or sibling.is_file():
            sibling.unlink(missing_ok=True)
        else:
            shutil.rmtree(sibling, ignore_errors=True)


def read_or_raise(path: Path, reader: Callable[[Path], T], error: type[Exception]) -> T:
    """``reader(path)``, with a missing or unreadable (truncated, corrupt) file raised as
    ``error`` naming the path: the libraries underneath (pyarrow, numpy, torch) raise a dozen
    different exception types for a damaged file, none of which says which file it was."""
    try:
        return reader(path)
    except FileNotFoundError:
        raise error(f"{path}: missing") from None
    except Exception as e:  # any failure to decode the file is the file's fault
        raise error(f"{path}: unreadable ({type(e).__name__}: {e}); write it again") from None
