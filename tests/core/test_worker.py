"""``yiwang serve`` runs one background worker beside gunicorn and does not leave it behind.

Real processes on Linux (the worker is found through /proc). The database
is left unmigrated: the worker must stay up through failing passes, and
delivery itself is covered by the kill test in test_notifications.py.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

YIWANG = Path(sys.executable).with_name("yiwang")
WAIT_LIMIT_SECONDS = 120.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds child processes through Linux's /proc"),
    pytest.mark.skipif(not YIWANG.exists(), reason="the yiwang console script is not installed beside this Python"),
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _background_workers(parent: int) -> list[int]:
    """Pids of `yiwang worker` processes started for the server ``parent`` (by their --parent-pid)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # the process ended while we looked
            continue
        if (
            b"worker" in argv
            and b"--parent-pid" in argv
            and argv[argv.index(b"--parent-pid") + 1] == str(parent).encode()
        ):
            found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_until(condition: Callable[[], bool], what: str, log: Path) -> None:
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, (
            f"{what} did not happen within {WAIT_LIMIT_SECONDS:.0f}s:\n{log.read_text()}"
        )
        time.sleep(0.1)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[bytes], Path]]]:
    servers: list[subprocess.Popen[bytes]] = []

    def start(**extra_env: str) -> tuple[subprocess.Popen[bytes], Path]:
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "YIWANG_MODE"}}
        env.update({"YIWANG_VAR_DIR": str(tmp_path / "var"), **extra_env})
        log = tmp_path / f"serve-{len(servers)}.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [str(YIWANG), "serve", "--port", str(_free_port()), "--workers", "1"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        servers.append(server)
        _wait_until(lambda: "Listening at" in log.read_text(errors="replace"), "gunicorn listening", log)
        return server, log

    yield start
    for server in servers:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
        for pid in _background_workers(server.pid):
            os.kill(pid, signal.SIGKILL)


def test_serve_starts_one_worker_and_stops_it_when_the_server_stops(serve: Callable[..., Any]) -> None:
    server, log = serve()
    _wait_until(lambda: len(_background_workers(server.pid)) == 1, "the background worker start", log)
    [worker] = _background_workers(server.pid)
    name = f"{socket.gethostname()}:{worker}"
    # Until Django has started in the worker, SIGTERM would simply end it: wait for its own handler.
    _wait_until(lambda: f"yiwang worker {name} started" in log.read_text(), "the worker's start-up", log)

    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=60) == 0
    _wait_until(lambda: not _running(worker), "the background worker stop", log)
    assert "Background worker started" in log.read_text()
    assert f"yiwang worker {name} stopped (SIGTERM)" in log.read_text()


def test_a_worker_does_not_outlive_a_killed_server(serve: Callable[..., Any]) -> None:
    server, log = serve()
    _wait_until(lambda: len(_background_workers(server.pid)) == 1, "the background worker start", log)
    [worker] = _background_workers(server.pid)

    server.kill()  # no chance to stop the worker itself
    server.wait(timeout=10)
    _wait_until(lambda: not _running(worker), "the orphaned worker's exit", log)


def test_yiwang_embedded_worker_0_serves_without_a_worker(serve: Callable[..., Any]) -> None:
    server, log = serve(YIWANG_EMBEDDED_WORKER="0")
    # gunicorn is up and its worker has booted; the background worker would have been started before both.
    _wait_until(lambda: "Booting worker" in log.read_text(), "gunicorn's worker boot", log)
    assert _background_workers(server.pid) == []
    assert "Background worker started" not in log.read_text()
