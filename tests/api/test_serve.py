"""`qc serve --workers N`: every worker takes its share of connections, and all stop together."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.migrate import upgrade

pytestmark = pytest.mark.slow
CONNECTIONS = 16  # all on one of two workers by chance: 2 * 0.5**16, about 3 in 100,000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _sockets(port: int, state: str) -> list[str]:
    """Inodes of the TCP sockets on local `port` in `state` (01 established, 0A listening)."""
    inodes = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            inodes.append(fields[9])
    return inodes


def _established_on(pid: int, port: int) -> int:
    """How many connections to `port` the process `pid` holds open (Linux /proc)."""
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            held.add(target[8:-1])
    return len(held.intersection(_sockets(port, "01")))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    url = f"sqlite:///{tmp_path / 'qc.db'}"
    upgrade(url)
    port = _free_port()
    env = dict(os.environ, QC_DATABASE_URL=url, QC_DATA_DIR=str(tmp_path), QC_LOG_LEVEL="warning")
    qc = Path(sys.executable).with_name("qc")
    proc = subprocess.Popen([str(qc), "serve", "--port", str(port), "--workers", "2"], env=env)
    deadline = time.monotonic() + 30
    while len(_sockets(port, "0A")) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # until both workers listen: the kernel spreads only over those that do
    yield proc, port
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_two_workers_share_the_connections_and_stop_together(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = served
    clients = [
        http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(CONNECTIONS)
    ]
    for client in clients:  # every connection answered: accepted by some worker
        client.request("GET", "/health")
        response = client.getresponse()
        assert response.status == 200 and response.read()
    workers = [pid for pid in _children(proc.pid) if _established_on(pid, port)]
    held = [_established_on(pid, port) for pid in workers]

    assert len(workers) == 2, f"connections per worker: {held}"
    assert sum(held) == CONNECTIONS

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    for client in clients:
        client.close()
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def test_workers_stop_when_the_supervisor_is_killed(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, _port = served
    workers = _children(proc.pid)
    assert len(workers) >= 2

    proc.kill()  # SIGKILL: the supervisor cannot pass anything on
    proc.wait(timeout=10)
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its reaper."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_port_in_use_is_refused_at_once(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = dict(os.environ, QC_DATABASE_URL=f"sqlite:///{tmp_path / 'qc.db'}")
        qc = Path(sys.executable).with_name("qc")
        result = subprocess.run(
            [str(qc), "serve", "--port", str(port), "--workers", "2"],
            env=env,
            capture_output=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert b"Address already in use" in result.stderr
