"""Load benchmark: the scan endpoint over HTTP from many stations at a fixed rate, SQLite and PG.

    .venv/bin/python bench/scan_load.py [--engines sqlite,postgres] [--stations 25] [--rate 250]
        [--seconds 20] [--warmup 2] [--workers N] [--db-threads N]
        [--pg-url postgresql://postgres@127.0.0.1:5432/test]

Per engine: a fresh database served by `qc serve` in a subprocess (one process on SQLite, one
per core on PostgreSQL, unless --workers says otherwise); stations that each pack
sequentially while their scans are scheduled open-loop (~5% wrong items, ~2% replays), and
GET /health. Latency counts from the scheduled send time, so a slow answer is charged to the
scans it delayed too (no coordinated omission). Afterwards the database must hold every scan
answered 200 exactly once. A benchmark, not a test: it exits 0 whether or not targets are met.
"""

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import math
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop
from sqlalchemy import text
from sqlalchemy.pool import NullPool
from sqlmodel import select

from api.db import make_engine, session_for
from api.migrate import upgrade
from api.settings import normalize_database_url
from qc.barcodes import gtin_check_digit
from qc.catalogue import upsert_product
from qc.enums import Role
from qc.identity import add_station, add_user
from qc.models import Scan
from qc.orders import upsert_order
from qc.schemas import BarcodeIn, OrderIn, OrderLineIn, ProductIn

ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1"
TARGET_RATE = 250.0  # scans/s
TARGET_P99_MS = 25.0
RATE_SLACK = 0.98  # an achieved rate this close to the target still meets it
HEALTH_RATE = 20.0
PG_SCHEMA = "qc_bench"
BADGE = "BADGE-BENCH"
WRONG_SHARE = 0.05
REPLAY_SHARE = 0.02
ATTEMPTS = 3  # stations retry a transport error or a 5xx with the same body (same event id)
TIMEOUT_S = 10.0
GRACE_S = 5.0  # a server still this far behind after the window is not waited for
CLK_TCK = os.sysconf("SC_CLK_TCK")
ENDPOINTS = {"scan": "POST /parcels/{id}/scans", "health": "GET /health",
             "open": "POST /parcels", "close": "POST .../close"}  # fmt: skip
HEAD = ["engine", "endpoint", "requests", "rate/s", "p50 ms", "p99 ms", "max ms",
        "errors", "lost", "dup", "target"]  # fmt: skip


@dataclass
class Station:
    index: int
    code: str
    orders: list[tuple[str, list[tuple[str, int]]]] = field(default_factory=list)
    id: int = 0
    key: str = ""


# The bench's own engines (setup, checks) use NullPool: few connections, and nothing to dispose.
def prepare(url: str, args: argparse.Namespace) -> tuple[list[Station], dict[str, str], str]:
    """Migrate and fill the database through the `qc` services; (stations, GTINs, version)."""
    upgrade(url)
    rng, engine = random.Random(args.seed), make_engine(url, poolclass=NullPool)
    bodies = {f"BENCH-{i:04d}": f"590{i:09d}" for i in range(1, 201)}
    gtin = {sku: body + str(gtin_check_digit(body)) for sku, body in bodies.items()}
    skus, stations = sorted(gtin), []
    # Enough units that no station runs dry, with room for wrong items and retries.
    scans = math.ceil(args.rate * (args.seconds + args.warmup + 1) / args.stations)
    need = math.ceil(scans * 1.15) + 20
    for s in range(args.stations):
        st, units = Station(s, f"BENCH-{s + 1:02d}"), 0
        while units < need:
            lines = [(sku, rng.randint(1, 3)) for sku in rng.sample(skus, rng.randint(5, 10))]
            st.orders.append((f"B{s + 1:02d}-{len(st.orders) + 1:05d}", lines))
            units += sum(q for _, q in lines)
        stations.append(st)
    with session_for(engine, write=True) as session:
        for sku, code in gtin.items():
            barcodes, weight = [BarcodeIn(code=code)], rng.randint(50, 900)
            product = ProductIn(name=f"Bench item {sku}", weight_g=weight, barcodes=barcodes)
            upsert_product(session=session, sku=sku, data=product)
        for st in stations:
            row, st.key = add_station(session=session, code=st.code, actor="bench")
            st.id = row.id or 0
            for number, lines in st.orders:
                order = OrderIn(lines=[OrderLineIn(sku=s, qty=q) for s, q in lines])
                upsert_order(session=session, number=number, data=order)
        add_user(session=session, name="bench-packer", role=Role.PACKER, badge=BADGE)
        session.commit()
    version = ".".join(map(str, engine.dialect.server_version_info or ()))
    return stations, gtin, version


def reset_pg_schema(pg_url: str, create: bool, schema: str = PG_SCHEMA) -> str:
    """Drop (and recreate) a bench schema; the URL that puts it first on the search path."""
    base = normalize_database_url(pg_url)
    with make_engine(base, poolclass=NullPool).begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        if create:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"


@contextlib.contextmanager
def serve(url: str, data_dir: Path, workers: int, db_threads: int) -> Iterator[tuple[int, int]]:
    """`qc serve` in a subprocess on a free loopback port: (pid, port) once /health answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = s.getsockname()
    port = int(address[1])
    env = dict(os.environ, QC_DATABASE_URL=url, QC_DATA_DIR=str(data_dir), QC_LOG_LEVEL="warning")
    if db_threads:
        env["QC_DB_THREADS"] = str(db_threads)
    qc = Path(sys.executable).with_name("qc")  # served as `qc serve` serves
    cmd = [str(qc), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with (data_dir / "server.log").open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(address, timeout=1) as s:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    break
            time.sleep(0.1)
        else:
            tail = (data_dir / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the server did not answer /health:\n{tail}")
        yield proc.pid, port
    finally:
        proc.terminate()  # first, so requests in flight finish and commit before the check
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def server_cpu_s(pid: int) -> float:
    """User + system CPU seconds of the server and its children (one per uvicorn worker)."""
    pids = [str(pid), *Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    stats = [Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split() for p in pids]
    return sum(int(fields[11]) + int(fields[12]) for fields in stats) / CLK_TCK


class Http:
    """HTTP/1.1 keep-alive, one request at a time: ~0.06 ms of CPU a request, httpx 1-2 ms."""

    def __init__(self, port: int, key: str = "") -> None:
        self.port = port
        auth = f"Authorization: Bearer {key}\r\n" if key else ""
        self.headers = f"Host: 127.0.0.1:{port}\r\n{auth}".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, path: str, body: bytes | None) -> tuple[int, bytes]:
        """POST `body`, or GET when it is None."""
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        reader, head = self.reader, b"GET " if body is None else b"POST "
        head += path.encode() + b" HTTP/1.1\r\n" + self.headers
        if body is not None:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        self.writer.write(head + b"\r\n" + (body or b""))
        status_line, *lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        headers = dict(line.lower().split(b":", 1) for line in lines if line)  # JSON: never chunked
        data = await reader.readexactly(int(headers.get(b"content-length", b"0")))
        if b"close" in headers.get(b"connection", b""):
            self.close()
        return int(status_line.split(b" ", 2)[1]), data


Sample = tuple[float, float, float]


@dataclass
class Load:
    """One engine's open-loop run, and what the clients saw of it."""

    port: int
    stations: list[Station]
    gtin: dict[str, str]
    args: argparse.Namespace
    # kind -> (scheduled, sent, answered) in perf_counter seconds; opening and closing follow
    # the previous answer at once rather than a schedule: for them scheduled is sent.
    samples: dict[str, list[Sample]] = field(default_factory=lambda: {k: [] for k in ENDPOINTS})
    unsent: dict[str, list[float]] = field(default_factory=lambda: {"scan": [], "health": []})
    errors: Counter[str] = field(default_factory=Counter)  # kind -> failed attempts
    first_errors: list[str] = field(default_factory=list)
    answered: dict[tuple[int, str], int] = field(default_factory=dict)  # -> scan_id
    tally: Counter[str] = field(default_factory=Counter)  # replays, mismatches, lost…
    t0: float = 0.0
    t_measure: float = 0.0
    t_end: float = 0.0
    t_stop: float = 0.0

    async def call(
        self, http: Http, kind: str, path: str, body: bytes | None, sched: float | None = None
    ) -> Any:
        """One request, retried like a station would; the JSON answer on a 2xx, else None."""
        sent, answer = time.perf_counter(), None
        for _ in range(ATTEMPTS):
            try:
                async with asyncio.timeout(TIMEOUT_S):
                    status, data = await http.request(path, body)
            except (OSError, EOFError, TimeoutError, ValueError, asyncio.LimitOverrunError) as exc:
                http.close()
                status, data = 0, f"{type(exc).__name__} {exc}".encode()
            if 200 <= status < 300:
                answer = json.loads(data)
                break
            if status in (0, 503):  # a dropped connection, or "busy, retry": a station sends again
                self.tally["retried"] += 1
                continue
            break
        if answer is None:  # an error is a request that finally failed, not a retried attempt
            self.errors[kind] += 1
            if len(self.first_errors) < 3:
                self.first_errors.append(f"{path}: {status} {data[:150].decode(errors='replace')}")
        self.samples[kind].append((sent if sched is None else sched, sent, time.perf_counter()))
        return answer

    def stopping(self, sched: float, schedule: Iterator[float], kind: str) -> bool:
        """Past the window; or so far behind that the rest of it is given up, and counted."""
        if sched >= self.t_end:
            return True
        if time.perf_counter() <= self.t_stop:
            return False
        while sched < self.t_end:  # these waited at least until the stop: lower bounds
            self.unsent[kind].append(sched)
            sched = next(schedule)
        return True

    async def station(self, st: Station, http: Http, go: asyncio.Event) -> None:
        """Pack the orders one after another, each scan at its scheduled time."""
        rng = random.Random(self.args.seed * 104729 + st.index)
        # Station i takes ticks i, i+n, i+2n… of one clock at the full rate (t0 is read lazily).
        n, rate = len(self.stations), self.args.rate
        schedule = (self.t0 + (k * n + st.index) / rate for k in itertools.count())
        history: list[tuple[str, bytes, Any]] = []  # (path, body, first answer) to replay
        sched, serial = 0.0, 0
        for i, (number, lines) in enumerate(st.orders):
            if i and self.stopping(sched, schedule, "scan"):
                return
            order = json.dumps({"order": number, "packer": BADGE}).encode()
            parcel = await self.call(http, "open", f"{API}/parcels", order)
            if i == 0:  # the first parcel opens before the clock starts: no burst of opens at t0
                await go.wait()
                sched = next(schedule)
            if parcel is None:
                continue
            path = f"{API}/parcels/{parcel['id']}/scans"
            items = [self.gtin[sku] for sku, qty in lines for _ in range(qty)]
            rng.shuffle(items)
            others = [code for sku, code in self.gtin.items() if sku not in dict(lines)]
            while items:
                if self.stopping(sched, schedule, "scan"):
                    return
                if (wait := sched - time.perf_counter()) > 0:
                    await asyncio.sleep(wait)
                roll = rng.random()
                if roll < REPLAY_SHARE and history:
                    replay_path, body, first = rng.choice(history[-20:])
                    self.tally["replays"] += 1
                    answer = await self.call(http, "scan", replay_path, body, sched)
                    self.tally["replay mismatches"] += answer is not None and answer != first
                else:
                    serial, wrong = serial + 1, roll < REPLAY_SHARE + WRONG_SHARE
                    code = rng.choice(others) if wrong else items[-1]
                    event = {"code": code, "source": "scanner", "event_id": f"{st.code}-{serial}"}
                    body = json.dumps(event).encode()
                    answer = await self.call(http, "scan", path, body, sched)
                    if answer is not None:
                        self.answered[(st.index, event["event_id"])] = answer.get("scan_id")
                        history.append((path, body, answer))
                        expected = "wrong_item" if wrong else "accepted"
                        self.tally["unexpected answers"] += answer.get("result") != expected
                        if answer.get("result") == expected and not wrong:
                            items.pop()
                sched = next(schedule)
            await self.call(http, "close", f"{API}/parcels/{parcel['id']}/close", b"")
        self.tally["stations out of orders"] += 1

    async def health(self, http: Http, go: asyncio.Event) -> None:
        await go.wait()
        schedule = (self.t0 + k / HEALTH_RATE for k in itertools.count())
        while not self.stopping(sched := next(schedule), schedule, "health"):
            if (wait := sched - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            await self.call(http, "health", "/health", None, sched)

    async def run(self) -> None:
        go, clients = asyncio.Event(), [Http(self.port, st.key) for st in self.stations]
        jobs = [self.station(st, c, go) for st, c in zip(self.stations, clients, strict=True)]
        clients.append(Http(self.port))
        tasks = [asyncio.ensure_future(job) for job in [*jobs, self.health(clients[-1], go)]]
        while len(self.samples["open"]) < len(self.stations) and not any(t.done() for t in tasks):
            await asyncio.sleep(0.01)  # until every bench has its first parcel open
        self.t0 = time.perf_counter() + 0.1
        self.t_measure = self.t0 + self.args.warmup
        self.t_end = self.t_measure + self.args.seconds
        self.t_stop = self.t_end + max(GRACE_S, self.args.seconds / 4)
        go.set()
        await asyncio.gather(*tasks)
        for client in clients:
            client.close()


def verify(url: str, load: Load) -> None:
    """Count what the database holds against what the stations were answered."""
    with session_for(make_engine(url, poolclass=NullPool), write=False) as session:
        rows = session.exec(select(Scan.station_id, Scan.event_id, Scan.id)).all()
    index = {st.id: st.index for st in load.stations}
    keys = [(index.get(station_id, -1), event_id) for station_id, event_id, _ in rows]
    counts, ids = Counter(keys), dict(zip(keys, (row[2] for row in rows), strict=True))
    load.tally["lost"] = sum(k not in ids or ids[k] != sid for k, sid in load.answered.items())
    load.tally["duplicated"] = sum(c - 1 for c in counts.values())
    load.tally["phantom"] = sum(k not in load.answered for k in counts)


def workers(engine: str, args: argparse.Namespace) -> int:
    """Server processes: as asked, else as deployed: one per SQLite file, one per core on PG."""
    if args.workers:
        return int(args.workers)
    return 1 if engine == "sqlite" else os.cpu_count() or 1


def bench_engine(engine: str, args: argparse.Namespace, tmp: Path) -> tuple[Load, float, str]:
    """Run and check one engine; (the load, server CPU ms per request, the database version)."""
    data_dir = tmp / engine
    data_dir.mkdir()
    try:
        if engine == "sqlite":
            url = f"sqlite:///{data_dir / 'qc.db'}"
        else:
            url = reset_pg_schema(args.pg_url, create=True)
        stations, gtin, version = prepare(url, args)
        with serve(url, data_dir, workers(engine, args), args.db_threads) as (pid, port):
            print(f"[{engine}] server pid {pid} on 127.0.0.1:{port}, "
                  f"{workers(engine, args)} worker(s); loading…", flush=True)  # fmt: skip
            load, cpu = Load(port, stations, gtin, args), server_cpu_s(pid)
            gc.collect()
            gc.freeze()  # the generator's heap is built: keep collector pauses out of timings
            uvloop.run(load.run())
            gc.unfreeze()
            cpu = server_cpu_s(pid) - cpu
        verify(url, load)
    finally:
        if engine == "postgres":
            reset_pg_schema(args.pg_url, create=False)
    requests = sum(len(v) for v in load.samples.values()) + sum(load.errors.values())
    return load, 1e3 * cpu / max(requests, 1), version


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted `values`."""
    rank = min(len(values) - 1, max(0, math.ceil(q / 100 * len(values)) - 1))
    return values[rank] if values else math.nan


def table_rows(engine: str, load: Load) -> tuple[list[list[str]], list[str]]:
    """One row per endpoint, and the reasons the scans miss the target."""
    rows, reasons = [], []
    for kind, name in ENDPOINTS.items():
        window = [s for s in load.samples[kind] if load.t_measure <= s[0] < load.t_end]
        # uvloop's timers have a 1 ms grain: a send that fired early is timed from the send.
        lat = [(done - min(sched, sent)) * 1e3 for sched, sent, done in window]
        unsent = [t for t in load.unsent.get(kind, []) if load.t_measure <= t < load.t_end]
        lat = sorted(lat + [(load.t_stop - t) * 1e3 for t in unsent])
        done = sum(load.t_measure <= s[2] < load.t_end for s in load.samples[kind])
        rate, p99, bound = done / load.args.seconds, pct(lat, 99), ">" if unsent else ""
        lost = dup = verdict = "-"
        if kind == "scan":
            lost, dup = str(load.tally["lost"]), str(load.tally["duplicated"])
            errors = sum(n for k, n in load.errors.items() if k != "health")
            failed = {
                f"rate set below the {TARGET_RATE:g}/s target": load.args.rate < TARGET_RATE,
                f"achieved {rate:.0f}/s": rate < RATE_SLACK * TARGET_RATE,
                f"p99 {bound}{p99:.1f} ms": not p99 < TARGET_P99_MS,
                f"{len(unsent)} scans never sent (server too far behind)": unsent,
                f"{errors} errors": errors,
            }
            failed |= {
                f"{n} {what}": n
                for what, n in load.tally.items()
                if what not in ("replays", "retried")
            }
            reasons = [reason for reason, bad in failed.items() if bad]
            verdict = "FAIL" if reasons else "PASS"
        times = [f"{bound}{v:.1f}" for v in (pct(lat, 50), p99, lat[-1] if lat else math.nan)]
        row = [engine, name, str(len(window)), f"{rate:.1f}", *times, str(load.errors[kind])]
        rows.append([*row, lost, dup, verdict])
    return rows, reasons


def print_table(rows: list[list[str]]) -> None:
    widths = [max(map(len, column)) for column in zip(HEAD, *rows, strict=True)]
    align = [str.ljust if j in (0, 1, 10) else str.rjust for j in range(len(HEAD))]
    for i, cells in enumerate([HEAD, ["-" * w for w in widths], *rows]):
        if i > 2 and cells[0] != rows[i - 3][0]:
            print()  # a blank line between engines
        print("  ".join(f(c, w) for f, c, w in zip(align, cells, widths, strict=True)).rstrip())


def machine_speed_us() -> float:
    """Microseconds for sum(range(1000)), best of 5 rounds: this machine's speed drifts."""
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(200):
            sum(range(1000))
        rounds.append((time.perf_counter() - start) / 200 * 1e6)
    return min(rounds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--stations", type=int, default=25)
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="scans/s, all stations")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured duration")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--workers", type=int, default=0, help="server processes (0: 1 on SQLite, nproc on PG)"
    )
    parser.add_argument("--db-threads", type=int, default=0, help="QC_DB_THREADS (0: default)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not engines or set(engines) - {"sqlite", "postgres"} or args.rate <= 0 or args.seconds <= 0:
        parser.error("--engines takes sqlite and/or postgres; --rate and --seconds must be > 0")

    print(f"scan_load: {args.stations} stations, {args.rate:g} scans/s, {args.seconds:g} s after "
          f"{args.warmup:g} s warm-up, /health at {HEALTH_RATE:g}/s, "
          f"workers {args.workers or 'auto'}, QC_DB_THREADS {args.db_threads or 'default'}, "
          f"seed {args.seed}",
          flush=True)  # fmt: skip
    rows, notes, cpu, versions = [], [], [], {"sqlite": sqlite3.sqlite_version, "postgres": "-"}
    tmp = Path(tempfile.mkdtemp(prefix="qc-bench-"))
    try:
        for engine in engines:
            try:
                load, cpu_ms, versions[engine] = bench_engine(engine, args, tmp)
            except Exception as exc:
                print(f"[{engine}] run failed: {type(exc).__name__}: {exc}")
                continue
            engine_rows, reasons = table_rows(engine, load)
            rows += engine_rows
            cpu.append(f"{engine} {cpu_ms:.1f} ms")
            sent, mismatches = load.tally["replays"], load.tally["replay mismatches"]
            replays = (
                f"{sent - mismatches}/{sent} replays identical, {load.tally['retried']} retries"
            )
            verdict = f"FAIL: {'; '.join(reasons)}" if reasons else "PASS"
            notes.append(f"{engine}: {len(load.answered)} scans answered 200, {replays}; {verdict}")
            notes += [f"  first errors: {e}" for e in load.first_errors]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nnproc {os.cpu_count()} | Python {sys.version.split()[0]} | "
          f"SQLite {versions['sqlite']} | PostgreSQL {versions['postgres']} | "
          f"server CPU per request: {', '.join(cpu) or '-'} | "
          f"sum(range(1000)): {machine_speed_us():.1f} µs")  # fmt: skip
    print(f"target: scan p99 < {TARGET_P99_MS:g} ms at {TARGET_RATE:g} scans/s with 0 errors, "
          "0 lost, 0 duplicated\n")  # fmt: skip
    print_table(rows)
    print("\n" + "\n".join(notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
