"""Serving the app: one uvicorn process, or several that each listen on the port.

With several workers, each process opens its own listening socket with SO_REUSEPORT, so the
kernel spreads new connections evenly over them. uvicorn's own `--workers` shares one socket
instead, and the first process to wake accepts a whole burst: stations keep their connections
open all shift, so one worker would carry nearly every bench while the others idle (measured
in bench/scan_load.py: 99 % and 4 % of a core).

Several workers share one folder for their Prometheus counters (see api.metrics), so /metrics
adds up every process whichever answers.
"""

import multiprocessing
import os
import shutil
import signal
import socket
import sys
import threading
import time
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

import uvicorn

from api.settings import get_settings

APP = "api.main:create_app"
# A worker that dies sooner than this after it started is failing to start: stop, don't loop.
STARTUP_GRACE_S = 5.0
METRICS_DIR_VAR = "PROMETHEUS_MULTIPROC_DIR"


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port) that other processes may open too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _exit_with_parent(parent: int) -> None:
    """Stop this worker (gracefully, by SIGTERM) once the supervisor is gone, even if killed."""
    while os.getppid() == parent:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)


def _worker(host: str, port: int, log_level: str, parent: int) -> None:
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    sock = reuse_port_socket(host, port)
    config = uvicorn.Config(APP, factory=True, log_level=log_level)
    uvicorn.Server(config).run(sockets=[sock])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal: only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, as another user's
    return True


def share_metrics(root: Path) -> Path:
    """Give this supervisor's workers one empty folder for their metrics files, and say so in
    PROMETHEUS_MULTIPROC_DIR before they start (prometheus_client reads it at import).

    The folder is `root/<this pid>`: files left there by an earlier run would be added up again.
    Folders of supervisors that are gone (killed, so they could not clean up) are removed.
    """
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        if old.name.isdigit() and not _alive(int(old.name)):
            shutil.rmtree(old, ignore_errors=True)
    folder = root / str(os.getpid())
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    os.environ[METRICS_DIR_VAR] = str(folder)
    return folder


def serve(*, host: str, port: int, workers: int, log_level: str) -> int:
    """Serve until SIGINT or SIGTERM; the exit status."""
    if workers > 1 and hasattr(socket, "SO_REUSEPORT"):
        reuse_port_socket(host, port).close()  # fail here, once, if the port is taken
    shared = None
    if workers > 1 and METRICS_DIR_VAR not in os.environ:
        shared = share_metrics(get_settings().data_dir / "metrics")
    try:
        return _serve(host=host, port=port, workers=workers, log_level=log_level)
    finally:
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)


def _serve(*, host: str, port: int, workers: int, log_level: str) -> int:
    if workers == 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(APP, factory=True, host=host, port=port, workers=workers, log_level=log_level)
        return 0
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> tuple[BaseProcess, float]:
        args = (host, port, log_level, os.getpid())
        process = context.Process(target=_worker, args=args, daemon=False)
        process.start()
        return process, time.monotonic()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    running = [start() for _ in range(workers)]
    print(f"Serving on http://{host}:{port} with {workers} worker processes", file=sys.stderr)
    status = 0
    while not stopping:
        time.sleep(0.2)
        for i, (process, started) in enumerate(running):
            if process.is_alive() or stopping:
                continue
            if time.monotonic() - started < STARTUP_GRACE_S:
                print(f"worker {process.pid} failed to start; stopping", file=sys.stderr)
                stopping, status = True, 1
                break
            print(f"worker {process.pid} exited ({process.exitcode}); restarting", file=sys.stderr)
            running[i] = start()
    for process, _ in running:
        process.terminate()  # SIGTERM: uvicorn finishes requests in flight, then exits
    for process, _ in running:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
    return status
