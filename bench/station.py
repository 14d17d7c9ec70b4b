"""Bench agent benchmark: scan-to-answer time through the station agent, online and offline.

    .venv/bin/python bench/station.py [--scans 300]

A fresh SQLite database served by `qc serve` in a subprocess on the loopback; the agent runs in
this process as `qc-station run` runs it (outbox on disk with synchronous=FULL, the sender
thread, the HTTP client), with a screen that draws nothing. The time measured is from the scan
reaching the agent to the answer being on the screen: the outbox write, the bench's own answer,
and online the server's answer through the sender. Then the server is stopped and the same is
measured offline. Targets: p99 under 100 ms online, under 20 ms offline. A benchmark, not a
test: it exits 0 whatever it finds.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scan_load import serve
from sqlalchemy.pool import NullPool

from api.db import make_engine, session_for
from api.migrate import upgrade
from qc.catalogue import upsert_product
from qc.enums import Role
from qc.identity import add_station, add_user
from qc.orders import upsert_order
from qc.schemas import BarcodeIn, OrderIn, OrderLineIn, ProductIn
from stations.client import Client
from stations.config import StationSettings
from stations.events import Scanned
from stations.outbox import Outbox
from stations.runner import Agent

MUG, PHONE = "4006381333931", "5012345678900"


class NoScreen:
    def show_parcel(self, order: str | None, lines: list[dict[str, Any]]) -> None: ...
    def show_answer(self, ok: bool, title: str, message: str) -> None:
        self.last = title

    def show_status(self, online: bool, waiting: int) -> None: ...
    def show_message(self, text: str) -> None: ...


def prepare(url: str, units: int) -> str:
    upgrade(url)
    with session_for(make_engine(url, poolclass=NullPool), write=True) as session:
        for sku, code in (("MUG", MUG), ("PHONE", PHONE)):
            product = ProductIn(name=sku, weight_g=300, barcodes=[BarcodeIn(code=code)])
            upsert_product(session=session, sku=sku, data=product)
        for n in (1, 2):
            order = OrderIn(lines=[OrderLineIn(sku="MUG", qty=units)])
            upsert_order(session=session, number=f"BIG-{n}", data=order)
        _, key = add_station(session=session, code="BENCH-1", actor="bench")
        add_user(session=session, name="packer", role=Role.PACKER, badge="P-1")
        session.commit()
    return key


def timed_scans(agent: Agent, count: int) -> list[float]:
    times = []
    for i in range(count):
        code = PHONE if i % 25 == 24 else MUG  # now and then a wrong item
        start = time.perf_counter()
        agent.handle(Scanned(code, "scanner"))
        times.append((time.perf_counter() - start) * 1000)
    return times


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=300)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        url = f"sqlite:///{tmp / 'qc.db'}"
        key = prepare(url, units=args.scans * 2)
        settings = StationSettings(key=key, packer="P-1", data_dir=tmp / "bench")
        with serve(url, tmp, workers=1, db_threads=0) as (_pid, port):
            settings.server_url = f"http://127.0.0.1:{port}"
            client = Client(settings.server_url, key)
            agent = Agent(
                settings=settings,
                client=client,
                screen=NoScreen(),
                outbox=Outbox(settings.data_dir / "outbox.db", station="BENCH-1"),
            )
            agent.start()
            agent.handle(Scanned("BIG-1", "scanner"))
            timed_scans(agent, 20)  # warm-up: connections, first statements
            rows.append(("online (server on loopback)", timed_scans(agent, args.scans)))
        rows.append(("offline (server stopped)", timed_scans(agent, args.scans)))
        waiting = agent.outbox.waiting()
        agent.stop()
    print(
        f"# scan-to-answer through the station agent; cpus: {os.cpu_count()}, "
        f"scans: {args.scans} per row (1 in 25 a wrong item)"
    )
    print(f"{'':<30} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, times in rows:
        print(
            f"{name:<30} {statistics.median(times):>8.2f} {pct(times, 0.9):>8.2f} "
            f"{pct(times, 0.99):>8.2f} {max(times):>8.2f}"
        )
    online, offline = pct(rows[0][1], 0.99), pct(rows[1][1], 0.99)
    print(
        f"targets: online p99 < 100 ms: {'met' if online < 100 else 'MISSED'} ({online:.1f}); "
        f"offline p99 < 20 ms: {'met' if offline < 20 else 'MISSED'} ({offline:.1f}); "
        f"{waiting} offline scans left in the outbox"
    )


if __name__ == "__main__":
    main()
