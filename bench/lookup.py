"""Lookup benchmark: GET /lookup at a million parcels, for each kind of identifier support types.

    .venv/bin/python bench/lookup.py [--parcels 1000000] [--engines sqlite,postgres]
        [--queries 300] [--seed 1] [--pg-url postgresql://postgres@127.0.0.1:5432/test]

Per engine: a fresh database (SQLite: a WAL file in a temporary folder; PostgreSQL: a schema of
its own, dropped at the end) migrated to head and filled in bulk with bench/stats.py's Loader
(executemany of 10,000 rows on SQLite, COPY on PostgreSQL), not through the API: 20 benches,
60 packers, one order per parcel with a numeric order number and a customer reference shared by
about three orders; 3 % of orders also have a parcel voided before the one that went out, and
2 % more orders are not packed yet; 90 % of the parcels shipped with a tracking number, a third
of those with an SSCC. Every key column (number_key, ref_key, tracking_key) is filled as
qc.lookup_keys.lookup_key would. Then ANALYZE, and `--queries` lookups of each kind, with
random targets and shuffled together, through FastAPI's TestClient with a support key; each
answer is checked to hold its target (or nothing, for a miss). A benchmark, not a test: it exits
0 whether or not the target (p99 under 50 ms) is met.
"""

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from scan_load import machine_speed_us, reset_pg_schema  # the benches' shared helpers
from sqlalchemy.pool import NullPool
from stats import COLUMNS, DAY_US, US, Loader, pct, stamp

from api.db import make_engine, session_for
from api.migrate import upgrade
from qc.barcodes import gtin_check_digit
from qc.enums import Role
from qc.identity import add_user
from qc.lookup_keys import lookup_key
from qc.photo_store import FsPhotoStore

PG_SCHEMA = "qc_bench_lookup"
TARGET_MS = 50.0
STATIONS, PACKERS, DAYS = 20, 60, 730
FIRST_ORDER = 4_000_001  # order numbers are digits, beyond the parcel ids: both are looked up
P_VOIDED, P_UNPACKED = 0.03, 0.02  # of orders
STATUSES, STATUS_WEIGHTS = ("shipped", "passed", "held", "packing"), (90, 7, 2, 1)
P_SSCC = 1 / 3  # of shipped parcels
BATCH = 20_000  # parcels generated between writes
console = Console()


def tracking(pid: int) -> str:
    """The carrier's number for parcel `pid`: two carriers' styles."""
    return f"1Z{pid * 7919 % 10**12:012d}{pid % 97:02d}" if pid % 2 else f"JD{pid:016d}"


def sscc(pid: int) -> str:
    body = f"0{7_614_141:07d}{pid:09d}"
    return body + str(gtin_check_digit(body))


@dataclass
class Made:
    """What was generated: enough to pick targets for each kind of lookup."""

    orders: int = 0
    parcels: int = 0
    refs: int = 1
    order_of: array = field(default_factory=lambda: array("l"))  # parcel id - 1 -> order id
    ref_of: array = field(default_factory=lambda: array("l"))  # order id - 1 -> reference
    shipped: array = field(default_factory=lambda: array("l"))  # parcel ids
    with_sscc: array = field(default_factory=lambda: array("l"))
    counts: dict[str, int] = field(default_factory=dict)


def generate(engine: sa.Engine, args: argparse.Namespace) -> tuple[Made, float]:
    """Fill the database; what was made, and the seconds spent writing."""
    rng, pg = random.Random(args.seed), engine.dialect.name == "postgresql"
    suffix = "+00" if pg else ""
    made = Made(refs=max(args.parcels // 3, 1))
    end_us = int(datetime.now(UTC).timestamp()) * US
    start_us = end_us - DAYS * DAY_US
    step = DAYS * DAY_US // max(args.parcels, 1)
    rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in COLUMNS}
    created = stamp(start_us - 30 * DAY_US, suffix)
    rows["station"] = [(s, f"BENCH-{s:02d}", created) for s in range(1, STATIONS + 1)]
    rows["app_user"] = [
        (n, f"packer-{n:02d}", Role.PACKER.value, f"BADGE-{n:04d}", created)
        for n in range(1, PACKERS + 1)
    ]
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("parcels"), TimeElapsedColumn(), TimeRemainingColumn()]  # fmt: skip
    with Progress(*columns, console=console) as progress, engine.connect() as conn:
        task = progress.add_task(f"{engine.dialect.name}: generating", total=args.parcels)
        if not pg:  # a bigger page cache for the load's index updates
            conn.exec_driver_sql("PRAGMA cache_size=-262144")
        loader = Loader(conn)

        def flush() -> None:
            for table, batch in rows.items():
                loader.write(table, batch)
                made.counts[table] = made.counts.get(table, 0) + len(batch)
                batch.clear()
            start = time.perf_counter()
            conn.commit()
            loader.seconds += time.perf_counter() - start
            progress.update(task, completed=made.parcels)

        while made.parcels < args.parcels:
            at = start_us + made.parcels * step
            made.orders += 1
            oid, number = made.orders, str(FIRST_ORDER + made.orders - 1)
            ref = f"CUST-{rng.randrange(made.refs):07d}"
            made.ref_of.append(int(ref[5:]))
            rows["customer_order"].append(
                (oid, number, ref, number, ref, stamp(at - 3600 * US, suffix), stamp(at, suffix))
            )
            if rng.random() < P_UNPACKED:
                continue
            tries = 2 if rng.random() < P_VOIDED and made.parcels + 1 < args.parcels else 1
            for n in range(tries):
                made.parcels += 1
                pid, last = made.parcels, n == tries - 1
                made.order_of.append(oid)
                opened = at + n * 900 * US + rng.randrange(60 * US)
                closed = opened + rng.randrange(120, 900) * US
                status = rng.choices(STATUSES, STATUS_WEIGHTS)[0] if last else "voided"
                number_or_none: str | None = None
                code: str | None = None
                shipped = None
                if status == "shipped":
                    number_or_none = tracking(pid)
                    shipped = stamp(closed + rng.randrange(1800, 8 * 3600) * US, suffix)
                    made.shipped.append(pid)
                    if rng.random() < P_SSCC:
                        code = sscc(pid)
                        made.with_sscc.append(pid)
                weight = rng.randrange(200, 5000)
                rows["parcel"].append(
                    (pid, oid, rng.randrange(STATIONS) + 1, rng.randrange(PACKERS) + 1, status,
                     weight, weight, number_or_none, number_or_none, code, stamp(opened, suffix),
                     None if status == "packing" else stamp(closed, suffix), shipped,
                     stamp(closed + 600 * US, suffix) if status == "voided" else None)
                )  # fmt: skip
            if len(rows["parcel"]) >= BATCH:
                flush()
        flush()
        loader.advance_sequences()
        conn.commit()
    return made, loader.seconds


def _parcel(rng: random.Random, made: Made) -> tuple[int, str]:
    pid = rng.randrange(made.parcels) + 1
    return pid, str(FIRST_ORDER + made.order_of[pid - 1] - 1)


def _order(rng: random.Random, made: Made) -> tuple[str, int | None]:
    pid, number = _parcel(rng, made)
    return number, pid


def _spaced_order(rng: random.Random, made: Made) -> tuple[str, int | None]:
    pid, number = _parcel(rng, made)
    return f"# {number[:3]} {number[3:]}", pid


def _tracking(rng: random.Random, made: Made) -> tuple[str, int | None]:
    pid = made.shipped[rng.randrange(len(made.shipped))]
    return tracking(pid).lower(), pid


def _parcel_id(rng: random.Random, made: Made) -> tuple[str, int | None]:
    pid, _ = _parcel(rng, made)
    return str(pid), pid


def _customer_ref(rng: random.Random, made: Made) -> tuple[str, int | None]:
    pid, _ = _parcel(rng, made)
    ref = f"cust-{made.ref_of[made.order_of[pid - 1] - 1]:07d}"
    return f" {ref[:7]} {ref[7:]} ", pid


def _sscc(rng: random.Random, made: Made) -> tuple[str, int | None]:
    pid = made.with_sscc[rng.randrange(len(made.with_sscc))]
    return rng.choice(("{}", "(00){}", "00{}", "(00) {}")).format(sscc(pid)), pid


def _miss(rng: random.Random, made: Made) -> tuple[str, int | None]:
    if rng.random() < 0.5:  # digits: a parcel id and an order number, neither there
        return str(rng.randrange(FIRST_ORDER + made.orders, FIRST_ORDER + 2 * made.orders)), None
    return f"zz-{rng.randrange(10**8):08d}", None


# What support types, and the parcel each query should find (None: nothing).
KINDS: list[tuple[str, Callable[[random.Random, Made], tuple[str, int | None]]]] = [
    ("order number", _order),
    ("'# 400 1234'", _spaced_order),
    ("tracking, lower case", _tracking),
    ("parcel id", _parcel_id),
    ("customer ref, spaced", _customer_ref),
    ("SSCC, 4 spellings", _sscc),
    ("miss", _miss),
]


@dataclass
class Timing:
    kind: str
    ms: list[float] = field(default_factory=list)
    found: int = 0


def measure(engine: sa.Engine, key: str, made: Made, args: argparse.Namespace, tmp: Path) -> list:
    """Every kind's queries, shuffled together, through the app; the answers checked."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    rng = random.Random(args.seed + 1)
    work = [(name, *make(rng, made)) for name, make in KINDS for _ in range(args.queries)]
    rng.shuffle(work)
    timings = {name: Timing(name) for name, _ in KINDS}
    app = create_app(engine=engine, photo_store=FsPhotoStore(tmp / "photos"))
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app, base_url="http://testserver/api/v1", headers=headers) as client:
        for _, q, _target in work[:50]:  # warm-up: connections, statement caches
            client.get("/lookup", params={"q": q}).raise_for_status()
        for name, q, target in work:
            start = time.perf_counter()
            answer = client.get("/lookup", params={"q": q})
            ms = (time.perf_counter() - start) * 1000
            answer.raise_for_status()
            ids = [r["parcel_id"] for r in answer.json()["results"]]
            timing = timings[name]
            timing.ms.append(ms)
            timing.found += (target in ids) if target is not None else not ids
    return list(timings.values())


def bench_engine(name: str, args: argparse.Namespace, tmp: Path) -> None:
    if name == "sqlite":
        url = f"sqlite:///{tmp / 'lookup.db'}"
    else:
        url = reset_pg_schema(args.pg_url, create=True, schema=PG_SCHEMA)
    engine = make_engine(url)  # as the server makes it: what the timings see
    try:
        upgrade(url)
        start = time.perf_counter()
        made, write_s = generate(make_engine(url, poolclass=NullPool), args)
        generate_s = time.perf_counter() - start
        start = time.perf_counter()
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        analyze_s = time.perf_counter() - start
        with session_for(engine, write=True) as session:
            _, key = add_user(session=session, name="bench-support", role=Role.SUPPORT)
            session.commit()
        version = ".".join(map(str, engine.dialect.server_version_info or ()))
        if name == "sqlite":
            size = sum(p.stat().st_size for p in tmp.glob("lookup.db*"))
        else:
            with engine.connect() as conn:
                size = conn.exec_driver_sql(
                    "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n"
                    f" ON n.oid = c.relnamespace WHERE n.nspname = '{PG_SCHEMA}'"
                    " AND c.relkind = 'r'"
                ).scalar_one()
        console.print(f"[{name}] generated in {generate_s:.0f} s, ANALYZE {analyze_s:.1f} s; "
                      "timing…", highlight=False, markup=False)  # fmt: skip
        timings = measure(engine, key, made, args, tmp)
    finally:
        engine.dispose()
        if name == "postgres":
            reset_pg_schema(args.pg_url, create=False, schema=PG_SCHEMA)
        else:
            for p in tmp.glob("lookup.db*"):
                p.unlink()
    report(name, version, made, generate_s, write_s, analyze_s, int(size or 0), timings)


HEAD = ["kind", "queries", "found", "p50", "p95", "p99", "max", "p99 < 50 ms"]


def report(
    name: str,
    version: str,
    made: Made,
    generate_s: float,
    write_s: float,
    analyze_s: float,
    size: int,
    timings: list[Timing],
) -> None:
    counts = ", ".join(f"{t} {n:,}" for t, n in made.counts.items() if n)
    print(f"\n== {name} {version} ==")
    print(f"generation {generate_s:.0f} s ({write_s:.0f} s of it writing), ANALYZE "
          f"{analyze_s:.1f} s, database {size / 2**20:,.0f} MiB")  # fmt: skip
    print(f"rows: {counts}; {len(made.shipped):,} shipped, {len(made.with_sscc):,} with an SSCC")
    every = Timing("all", [ms for t in timings for ms in t.ms], sum(t.found for t in timings))
    rows = []
    for t in [*timings, every]:
        ms = sorted(t.ms)  # pct() takes sorted values
        rows.append([t.kind, str(len(ms)), f"{t.found}/{len(ms)}", f"{statistics.median(ms):.1f}",
                     f"{pct(ms, 95):.1f}", f"{pct(ms, 99):.1f}", f"{ms[-1]:.1f}",
                     "yes" if pct(ms, 99) < TARGET_MS else "NO"])  # fmt: skip
    widths = [max(map(len, column)) for column in zip(HEAD, *rows, strict=True)]
    for texts in [HEAD, ["-" * w for w in widths], *rows]:
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                        for j, (c, w) in enumerate(zip(texts, widths, strict=True))))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parcels", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--queries", type=int, default=300, help="per kind of lookup")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not engines or set(engines) - {"sqlite", "postgres"}:
        parser.error("--engines takes sqlite and/or postgres")
    if args.parcels < 100 or args.queries < 1:
        parser.error("--parcels is at least 100, --queries at least 1")
    assert lookup_key(tracking(3).lower()) == tracking(3)  # the keys loaded are lookup keys
    print(f"lookup: {args.parcels:,} parcels, engines {', '.join(engines)}, {args.queries} "
          f"queries of each of {len(KINDS)} kinds, seed {args.seed}", flush=True)  # fmt: skip
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="qc-bench-lookup-"))
    try:
        for name in engines:
            try:
                bench_engine(name, args, tmp)
            except Exception as exc:
                console.print_exception()
                print(f"[{name}] run failed: {type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nnproc {os.cpu_count()} | Python {sys.version.split()[0]} | SQLite "
          f"{sqlite3.sqlite_version} | sum(range(1000)): {machine_speed_us():.1f} µs | "
          f"whole run {time.perf_counter() - started:.0f} s")  # fmt: skip
    print("milliseconds per GET /lookup through FastAPI's TestClient with a support key; found: "
          "answers holding their target parcel (a miss: holding nothing)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
