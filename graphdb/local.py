"""The embedded default: a local Neo4j Community 5.26 run by a tiny Java launcher, no Docker.

The launcher (``graphdb/launcher``: a ``pom.xml`` and one class) is built with Maven once
into ``~/.cache/interestgraph/launcher/<hash of its sources>``; ``start`` runs it as a detached
JVM bound to 127.0.0.1, waits until Bolt answers, and records pid, URI and credentials in a
state file under the interestgraph home, so every later command finds it with no environment.
``stop`` sends SIGTERM, which runs ``DatabaseManagementService.shutdown()`` in the JVM.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from graphdb.errors import LocalNeo4jError
from graphdb.processes import pid_running

LAUNCHER_SOURCES = Path(__file__).parent / "launcher"
MAIN_CLASS = "io.interestgraph.launcher.LocalNeo4j"
COMPACT_CLASS = "io.interestgraph.launcher.CompactStore"
PASSWORD_ENV = "INTERESTGRAPH_NEO4J_PASSWORD"
DEFAULT_USER = "neo4j"

#: The flags Neo4j's own launcher passes on Java 17+ (from its default neo4j.conf), minus
#: -XX:+AlwaysPreTouch, which would touch the whole heap before start on a small machine.
NEO4J_JVM_FLAGS: tuple[str, ...] = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "-XX:FlightRecorderOptions=stackdepth=256",
    "-XX:+UnlockDiagnosticVMOptions",
    "-XX:+DebugNonSafepoints",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "-Dlog4j2.disable.jmx=true",
    "-Dfile.encoding=UTF-8",
)


@dataclass(frozen=True)
class LocalState:
    """What ``db start`` recorded about the running local Neo4j."""

    pid: int
    port: int
    uri: str
    user: str
    password: str
    data_dir: str
    log_path: str
    started_at: float

    def public(self) -> dict[str, object]:
        """The state without the password, for printing."""
        info = asdict(self)
        info.pop("password")
        return info


def _pid_alive(pid: int) -> bool:
    """True if ``pid`` runs and is not a zombie (a stopped child we have not reaped yet)."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    except ChildProcessError:
        pass
    if not pid_running(pid):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _is_our_launcher(pid: int) -> bool:
    """Guards against pid reuse: the pid must still be a JVM running our launcher class."""
    try:
        return MAIN_CLASS.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return _pid_alive(pid)


def _port_free(port: int) -> bool:
    """Whether nothing listens on ``port``. SO_REUSEADDR, as the JVM sets it for Bolt, so that
    connections of a just-stopped Neo4j lingering in TIME_WAIT don't block a restart."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bolt_answers(port: int) -> bool:
    """A TCP connect plus the Bolt handshake magic: cheaper than a driver for the wait loop."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"\x60\x60\xb0\x17" + b"\x00\x00\x04\x05" + b"\x00" * 12)
            return len(sock.recv(4)) == 4
    except OSError:
        return False


def _launcher_ready(log_path: Path, offset: int) -> bool:
    """True once this start's part of the log holds the launcher's READY line."""
    with open(log_path, "rb") as log:
        log.seek(offset)
        return b"\nREADY bolt://" in b"\n" + log.read()


def _java_major_version(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        raise LocalNeo4jError(f"Cannot read the Java version from `{java} -version`: {out.strip()}")
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


class LocalNeo4j:
    """Builds, starts, finds and stops the local Neo4j whose state lives under ``home``."""

    def __init__(self, home: Path, cache_dir: Path | None = None):
        self.home = Path(home)
        self.state_file = self.home / "local-neo4j.json"
        xdg_cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        self.cache_dir = Path(cache_dir or Path(xdg_cache) / "interestgraph")

    # -- build ------------------------------------------------------------------------------
    def _sources_hash(self) -> str:
        digest = hashlib.sha256()
        for path in sorted(LAUNCHER_SOURCES.rglob("*")):
            if path.is_file() and "target" not in path.relative_to(LAUNCHER_SOURCES).parts:
                digest.update(str(path.relative_to(LAUNCHER_SOURCES)).encode())
                digest.update(path.read_bytes())
        return digest.hexdigest()[:16]

    def build(self) -> Path:
        """Build the launcher with Maven unless a build of the same sources is cached.

        Returns the build folder holding ``local-neo4j-1.0.0.jar`` and ``lib/``.
        """
        build_dir = self.cache_dir / "launcher" / self._sources_hash()
        jar = build_dir / "target" / "local-neo4j-1.0.0.jar"
        if jar.exists() and (build_dir / "target" / "lib").is_dir():
            return build_dir / "target"
        mvn = shutil.which("mvn")
        if mvn is None:
            raise LocalNeo4jError(
                "Maven (mvn) is not on PATH; it is needed once to fetch the Neo4j jars. "
                "Install it (apt-get install maven) or use an existing Neo4j via NEO4J_URI."
            )
        if build_dir.exists():
            shutil.rmtree(build_dir)
        # Build in a copy: the package folder may be read-only (site-packages).
        shutil.copytree(LAUNCHER_SOURCES, build_dir, ignore=shutil.ignore_patterns("target"))
        result = subprocess.run(
            [mvn, "-q", "-B", "-DskipTests", "package"],
            cwd=build_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not jar.exists():
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise LocalNeo4jError(f"Building the Neo4j launcher with Maven failed:\n{tail}")
        return build_dir / "target"

    def _java_command(self, main_class: str, heap: str, *args: str) -> list[str]:
        """``java … MAIN_CLASS ARGS`` on the launcher's classpath, after checking Java 17+."""
        java = shutil.which("java")
        if java is None:
            raise LocalNeo4jError(
                "Java is not on PATH; the local Neo4j needs Java 17 or newer "
                "(apt-get install openjdk-17-jre-headless), or use NEO4J_URI."
            )
        if _java_major_version(java) < 17:
            raise LocalNeo4jError(f"{java} is older than Java 17, which Neo4j 5.26 needs.")
        target = self.build()
        classpath = f"{target / 'local-neo4j-1.0.0.jar'}{os.pathsep}{target / 'lib' / '*'}"
        return [java, f"-Xmx{heap}", *NEO4J_JVM_FLAGS, "-cp", classpath, main_class, *args]

    # -- state ------------------------------------------------------------------------------
    def _read_state(self) -> LocalState | None:
        if not self.state_file.exists():
            return None
        try:
            return LocalState(**json.loads(self.state_file.read_text()))
        except (ValueError, TypeError) as e:
            raise LocalNeo4jError(
                f"{self.state_file} is unreadable ({e}); delete it and run `interestgraph db start`"
            ) from e

    def _write_state(self, state: LocalState) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state)))
        tmp.chmod(0o600)
        tmp.replace(self.state_file)

    def running_state(self) -> LocalState | None:
        """The recorded state if that JVM is still alive, else None."""
        state = self._read_state()
        if state is None or not (_pid_alive(state.pid) and _is_our_launcher(state.pid)):
            return None
        return state

    def status(self) -> dict[str, object]:
        """``running``, ``stopped`` or ``dead`` (a recorded JVM that is gone), with details."""
        state = self._read_state()
        if state is None:
            return {"status": "stopped"}
        if not (_pid_alive(state.pid) and _is_our_launcher(state.pid)):
            return {
                "status": "dead",
                "message": f"the local Neo4j (pid {state.pid}) is gone; see {state.log_path} "
                "and run `interestgraph db start` (the data directory is kept)",
                **state.public(),
            }
        return {"status": "running", "bolt": _bolt_answers(state.port), **state.public()}

    # -- start / stop -----------------------------------------------------------------------
    @staticmethod
    def _credentials(data_dir: Path, password: str | None) -> str:
        """The data directory's password: created on first start, kept for every restart."""
        creds = data_dir / "interestgraph-credentials.json"
        if creds.exists():
            return str(json.loads(creds.read_text())["password"])
        chosen = password or secrets.token_urlsafe(18)
        if len(chosen) < 8:
            raise LocalNeo4jError("The Neo4j password must have at least 8 characters.")
        creds.write_text(json.dumps({"user": DEFAULT_USER, "password": chosen}))
        creds.chmod(0o600)
        return chosen

    def start(
        self,
        data_dir: Path | None = None,
        port: int | None = None,
        password: str | None = None,
        heap: str = "2g",
        timeout_s: float = 180.0,
    ) -> tuple[LocalState, bool]:
        """Start the local Neo4j (or return the one already running).

        Returns ``(state, started)``; ``started`` is False when one was already running.
        """
        running = self.running_state()
        if running is not None:
            return running, False
        if port is not None and not _port_free(port):
            raise LocalNeo4jError(
                f"Port {port} on 127.0.0.1 is already in use; choose another with --port, "
                "or leave --port out to take a free one."
            )
        data_dir = Path(data_dir or self.home / "neo4j").resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        port = port or _free_port()
        secret = self._credentials(data_dir, password)
        log_path = data_dir / "logs" / "launcher.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        command = self._java_command(MAIN_CLASS, heap, str(data_dir), str(port))
        log_offset = log_path.stat().st_size if log_path.exists() else 0
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, PASSWORD_ENV: secret},
                start_new_session=True,
            )
        state = LocalState(
            pid=process.pid,
            port=port,
            uri=f"bolt://127.0.0.1:{port}",
            user=DEFAULT_USER,
            password=secret,
            data_dir=str(data_dir),
            log_path=str(log_path),
            started_at=time.time(),
        )
        self._wait_ready(process, state, log_path, log_offset, timeout_s)
        self._write_state(state)
        return state, True

    @staticmethod
    def _log_tail(log_path: Path, lines: int = 20) -> str:
        try:
            return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _wait_ready(
        self,
        process: subprocess.Popen[bytes],
        state: LocalState,
        log_path: Path,
        log_offset: int,
        timeout_s: float,
    ) -> None:
        """Wait for the launcher's READY line (printed after the password is set) and for Bolt."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LocalNeo4jError(
                    f"The local Neo4j exited during start (code {process.returncode}). "
                    f"Last lines of {log_path}:\n{self._log_tail(log_path)}"
                )
            if _launcher_ready(log_path, log_offset) and _bolt_answers(state.port):
                return
            time.sleep(0.25)
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        raise LocalNeo4jError(
            f"The local Neo4j did not answer on port {state.port} within {timeout_s:.0f}s. "
            f"Last lines of {log_path}:\n{self._log_tail(log_path)}"
        )

    def stop(self, timeout_s: float = 90.0) -> dict[str, object]:
        """SIGTERM the JVM (clean ``shutdown()``), wait for it, SIGKILL only past ``timeout_s``."""
        state = self._read_state()
        if state is None:
            return {"status": "stopped", "was_running": False}
        if not (_pid_alive(state.pid) and _is_our_launcher(state.pid)):
            self.state_file.unlink(missing_ok=True)
            return {"status": "stopped", "was_running": False, "note": "removed a stale state file"}
        os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _pid_alive(state.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        forced = False
        if _pid_alive(state.pid):
            os.kill(state.pid, signal.SIGKILL)
            forced = True
            while _pid_alive(state.pid):
                time.sleep(0.1)
        self.state_file.unlink(missing_ok=True)
        return {"status": "stopped", "was_running": True, "forced": forced, "pid": state.pid}

    # -- compaction -------------------------------------------------------------------------
    def compact(self, data_dir: Path | None = None, heap: str = "2g") -> dict[str, object]:
        """Rewrite the store from the live graph only, so deleted records leave the disk.

        Neo4j keeps the bytes of deleted nodes and properties in its store files and
        transaction logs; an erasure that must reach the disk needs a store written afresh
        (``neo4j-admin database copy`` does that, in Enterprise Edition only). The launcher's
        ``CompactStore`` copies nodes, relationships, properties and schema into a staging home
        beside the data folder; only once it has finished does the staging ``data/`` replace
        the live one. A running Neo4j is stopped first and started again on the same port.
        Resumable: a run killed while copying starts the copy again (the live store is
        untouched); one killed while swapping finishes the swap.
        """
        started = time.perf_counter()
        running = self.running_state()
        data_dir = Path(running.data_dir if running else data_dir or self.home / "neo4j")
        staging = data_dir.with_name(data_dir.name + ".compacting")
        retired = data_dir.with_name(data_dir.name + ".old-data")
        done_marker = staging / "COMPLETE.json"
        if not (data_dir / "data").is_dir() and not done_marker.exists():
            raise LocalNeo4jError(f"No local Neo4j store at {data_dir / 'data'} to compact.")
        size_before = _folder_bytes(data_dir / "data")
        if running is not None:
            self.stop()
        try:
            counts = self._copy_and_swap(data_dir, staging, retired, done_marker, heap)
        finally:  # a failed copy leaves the old store: serve it again as it was
            if running is not None:
                self.start(data_dir, running.port)
        report: dict[str, object] = {
            "compacted": True,
            **counts,
            "store_bytes_before": size_before,
            "store_bytes_after": _folder_bytes(data_dir / "data"),
        }
        if running is not None:
            report["restarted"] = True
        report["seconds"] = round(time.perf_counter() - started, 3)
        return report

    def _copy_and_swap(
        self, data_dir: Path, staging: Path, retired: Path, done_marker: Path, heap: str
    ) -> dict[str, object]:
        """Copy the live graph into ``staging`` unless a finished copy is there, then put its
        ``data/`` in place of the old one; returns the copy's counts."""
        if not done_marker.exists():
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            done_marker.with_suffix(".tmp").write_text(self._run_compactor(data_dir, staging, heap))
            done_marker.with_suffix(".tmp").replace(done_marker)
        counts: dict[str, object] = json.loads(done_marker.read_text())
        live, fresh = data_dir / "data", staging / "data"
        if fresh.exists():
            if live.exists():
                shutil.rmtree(retired, ignore_errors=True)  # left by an earlier compaction
                live.rename(retired)
            fresh.rename(live)
        shutil.rmtree(retired, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)
        return counts

    def _run_compactor(self, data_dir: Path, staging: Path, heap: str) -> str:
        """Run ``CompactStore`` (the store must be closed); returns its JSON line of counts."""
        command = self._java_command(COMPACT_CLASS, heap, str(data_dir), str(staging))
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines or not lines[-1].startswith("{"):
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise LocalNeo4jError(
                f"Compacting the store at {data_dir} failed (the live store is untouched; "
                f"run it again):\n{tail}"
            )
        return lines[-1]


def _folder_bytes(folder: Path) -> int:
    """Total size of the files under ``folder`` (0 when it does not exist)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
