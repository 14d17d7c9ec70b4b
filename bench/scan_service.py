"""What one scan costs the server, without HTTP: the scan service, the key lookup and the commit.

    python bench/scan_service.py [--scans 300] [--pg-url postgresql://postgres@127.0.0.1:5432/test]

Prints a table per engine: milliseconds per scan for the whole transaction, and for its parts
(key lookup, scan service, commit), beside a trivial transaction (SELECT 1 and commit) on the
same engine. Sequential, one thread: this is the cost floor under the HTTP benchmark.
"""

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, text

from api.db import make_engine, session_for
from api.migrate import upgrade
from qc import parcels
from qc.identity import authenticate
from qc.scanning import record_scan
from qc.schemas import ScanIn
from tests.factories import MUG, make_order, make_world

TODAY = date(2026, 11, 22)


def prepare(url: str, scans: int) -> tuple[Engine, str, int]:
    if url.startswith("postgresql"):
        admin = make_engine(url)
        with admin.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS qc_bench_service CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA qc_bench_service")
        admin.dispose()
        url += "?options=-csearch_path%3Dqc_bench_service"
    upgrade(url)
    engine = make_engine(url)
    with session_for(engine, write=True) as session:
        world = make_world(session)
        make_order(session, number="BENCH", lines=[("MUG", scans * 3)])
        session.commit()
    key = world.keys["station"]
    with session_for(engine, write=True) as session:
        station = authenticate(session=session, key=key)
        parcel, _ = parcels.open_parcel(
            session=session, station=station, order_code="BENCH", packer_badge="P-001"
        )
        session.commit()
    return engine, key, parcel.id


def timed(rounds: int, step: Callable[[int, dict[str, float]], None]) -> dict[str, list[float]]:
    """Run `step` `rounds` times; it adds its parts' seconds to the dict it is given."""
    samples: dict[str, list[float]] = {}
    for i in range(rounds):
        parts: dict[str, float] = {}
        start = time.perf_counter()
        step(i, parts)
        parts["total"] = time.perf_counter() - start
        for name, seconds in parts.items():
            samples.setdefault(name, []).append(seconds * 1000)
    return samples


def run(url: str, scans: int) -> list[tuple[str, str, float, float]]:
    engine, key, parcel_id = prepare(url, scans)

    def scan(i: int, parts: dict[str, float]) -> None:
        with session_for(engine, write=True) as session:
            t0 = time.perf_counter()
            station = authenticate(session=session, key=key)
            t1 = time.perf_counter()
            data = ScanIn(code=MUG, event_id=f"bench-{i}")
            record_scan(
                session=session, parcel_id=parcel_id, station=station, data=data, today=TODAY
            )
            t2 = time.perf_counter()
            session.commit()
            parts.update(key=t1 - t0, service=t2 - t1, commit=time.perf_counter() - t2)

    def trivial(_: int, parts: dict[str, float]) -> None:
        with session_for(engine, write=True) as session:
            session.execute(text("SELECT 1"))
            session.commit()

    timed(30, lambda i, p: scan(scans + i, p))  # warm the caches and the pool
    rows = []
    for name, samples in timed(scans, scan).items():
        rows.append(
            ("scan", name, statistics.median(samples), statistics.quantiles(samples, n=100)[98])
        )
    for name, samples in timed(scans, trivial).items():
        rows.append(
            ("SELECT 1", name, statistics.median(samples), statistics.quantiles(samples, n=100)[98])
        )
    engine.dispose()
    if url.startswith("postgresql"):
        admin = make_engine(url.split("?")[0])
        with admin.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA qc_bench_service CASCADE")
        admin.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=300)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    python, sqlite = sys.version.split()[0], sqlite3.sqlite_version
    print(f"nproc {os.cpu_count()} | Python {python} | SQLite {sqlite}")
    print(f"{'engine':10} {'transaction':12} {'part':8} {'p50 ms':>8} {'p99 ms':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for engine, url in (("sqlite", f"sqlite:///{folder}/bench.db"), ("postgres", args.pg_url)):
            for kind, part, p50, p99 in run(url, args.scans):
                print(f"{engine:10} {kind:12} {part:8} {p50:8.2f} {p99:8.2f}")


if __name__ == "__main__":
    main()
