"""Statistics benchmark: each stats endpoint on a large history, beside the same from raw rows.

    .venv/bin/python bench/stats.py [--parcels 1000000] [--engines sqlite,postgres] [--days 730]
        [--runs 7] [--seed 1] [--pg-url postgresql://postgres@127.0.0.1:5432/test]

Per engine: a fresh database (SQLite: a WAL file in a temporary folder; PostgreSQL: a schema of
its own, dropped at the end) migrated to head and filled in bulk, not through the API
(SQLite: executemany of 10,000 rows; PostgreSQL: COPY; foreign keys checked on both), with
`--days` of history ending yesterday (UTC): 20 benches on two shifts, 60 packers, 2,000
products with a GTIN each, one order per parcel with 1-4 lines, about 5 scans per parcel,
about 4 % of parcels with a caught defect (refused scans, short-ships, damaged items, held for
a missing item or the weight), held parcels mostly released by a supervisor, 90 % of passed
parcels shipped, about 0.5 % with an escaped defect. Then `qc.rollup_rebuild.rebuild` and
ANALYZE (PostgreSQL: VACUUM ANALYZE), timed. Then each statistic for the last 28 days and for
the whole history: `qc.stats` called with a session (the endpoint minus HTTP), the endpoint
through FastAPI's TestClient with a manager key, and the same figures computed from the raw
rows in plain SQL; the raw figures are compared with the rollup's. The defect rate by SKU is
also timed as it ran before stat_sku_total ("months only"), side by side. A benchmark, not a
test: it exits 0 whether or not the target (every endpoint under 100 ms at 1 million parcels)
is met.
"""

import argparse
import gc
import hashlib
import math
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

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

from api.db import make_engine, session_for
from api.migrate import upgrade
from qc import stats, stats_query
from qc.barcodes import gtin_check_digit
from qc.enums import Role
from qc.identity import add_user
from qc.models import UTCDateTime
from qc.photo_store import FsPhotoStore
from qc.rollup_rebuild import rebuild
from qc.stats_schemas import Filters, Period

PG_SCHEMA = "qc_bench_stats"
TARGET_MS = 100.0
SLOW_S = 2.0  # a query whose warm-up takes longer is run 3 times, not --runs
API = "/api/v1/stats"
console = Console()

# The warehouse
STATIONS, PACKERS, SUPERVISORS, PRODUCTS, FAMILY = 20, 60, 4, 2000, 5  # FAMILY: look-alikes
SHIFTS = (6, 14)  # UTC hours two eight-hour shifts start
LINES, LINE_WEIGHTS = (1, 2, 3, 4), (40, 30, 20, 10)
QTYS, QTY_WEIGHTS = (1, 2, 3, 4, 6), (30, 30, 20, 12, 8)  # about 4.9 units a parcel
WEEKDAY = (1.0, 1.0, 1.0, 1.0, 0.9, 0.6, 0.3)  # Monday first
TARE_G = 150
# Per parcel (those marked m scale with the packer's own error rate, 1 on average)
P_WRONG, P_UNKNOWN, P_OVER = 0.016, 0.003, 0.004  # m: refused scans, each a caught defect
P_DAMAGED, P_MISSING = 0.004, 0.005  # m
P_SHORT, P_WEIGHT = 0.004, 0.004  # out of stock; scale or packaging off
P_OVERRIDE, P_VOID = 0.85, 0.10  # of held parcels (the rest stay held)
P_SHIP = 0.90  # of passed parcels
P_ESCAPED = 0.0056  # m, of shipped parcels: about 0.5 % of all
US = 1_000_000
DAY_US = 86_400 * US

# Insert order respects the foreign keys; every row is a tuple in this column order.
COLUMNS: dict[str, tuple[str, ...]] = {
    "product": ("id", "sku", "name", "weight_g", "requires_serial", "tracks_lot", "is_kit",
                "created_at", "updated_at"),
    "barcode": ("id", "code", "product_id", "pack_qty"),
    "station": ("id", "code", "created_at"),
    "app_user": ("id", "name", "role", "badge", "created_at"),
    "customer_order": ("id", "number", "customer_ref", "number_key", "ref_key", "created_at",
                       "updated_at"),
    "order_line": ("id", "order_id", "product_id", "qty"),
    "parcel": ("id", "order_id", "station_id", "packer_id", "status", "weight_g",
               "expected_weight_g", "tracking_number", "tracking_key", "sscc", "opened_at",
               "closed_at", "shipped_at", "voided_at"),
    "parcel_line": ("id", "parcel_id", "product_id", "expected", "kit_qty", "accepted",
                    "damaged", "short"),
    "scan": ("id", "parcel_id", "station_id", "event_id", "code", "source", "result",
             "product_id", "units", "gtin", "recorded_at", "received_at", "answer"),
    "defect": ("id", "parcel_id", "kind", "stage", "product_id", "expected_product_id", "qty",
               "station_id", "packer_id", "scan_id", "reason", "created_at"),
    "override": ("id", "parcel_id", "user_id", "reason", "created_at"),
}  # fmt: skip
GRAIN_TABLES = ["stat_day", "stat_sku_day", "stat_sku_month", "stat_sku_total"]
COUNTED = [*COLUMNS, "stat_cell", *GRAIN_TABLES, "stat_confusion"]


@lru_cache(maxsize=4096)
def _day(n: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=n)).isoformat()


def stamp(us: int, suffix: str) -> str:
    """Microseconds since the epoch as SQLAlchemy stores them on SQLite (+ "+00" for COPY)."""
    days, us = divmod(us, DAY_US)
    s, us = divmod(us, US)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{_day(days)} {h:02d}:{m:02d}:{s:02d}.{us:06d}{suffix}"


# ---------------------------------------------------------------------------------- loading


class Loader:
    """Bulk inserts of ready tuples: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.seconds = 0.0  # spent writing

    def write(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if not self.conn.in_transaction():  # COPY goes round SQLAlchemy: commit() must see it
            self.conn.begin()
        start = time.perf_counter()
        columns = ", ".join(f'"{c}"' for c in COLUMNS[table])
        if self.pg:
            cursor = self.conn.connection.cursor()
            with cursor.copy(f'COPY "{table}" ({columns}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(COLUMNS[table]))
            sql = f'INSERT INTO "{table}" ({columns}) VALUES ({marks})'
            for i in range(0, len(rows), 10_000):
                self.conn.exec_driver_sql(sql, rows[i : i + 10_000])
        self.seconds += time.perf_counter() - start

    def advance_sequences(self) -> None:
        """After COPY with explicit ids: later inserts (the manager, its key) take new ones."""
        if self.pg:
            for table in COLUMNS:
                self.conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                    f'COALESCE((SELECT MAX(id) FROM "{table}"), 0) + 1, false)'
                )


@dataclass
class History:
    """The generated rows, a flush at a time; ids are given here, in closing-time order."""

    rng: random.Random
    suffix: str
    end_us: int  # nothing happens after this (complaints included)
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    products: list[int] = field(default_factory=list)
    cum_weights: list[float] = field(default_factory=list)
    weight_g: dict[int, int] = field(default_factory=dict)
    gtin: dict[int, str] = field(default_factory=dict)
    stations: list[int] = field(default_factory=list)
    packers: list[int] = field(default_factory=list)
    supervisors: list[int] = field(default_factory=list)
    error_rate: dict[int, float] = field(default_factory=dict)  # packer -> multiplier

    def __post_init__(self) -> None:
        self.rows = {table: [] for table in COLUMNS}
        self.ids = dict.fromkeys(COLUMNS, 0)
        self.counts = dict.fromkeys(COLUMNS, 0)

    def ts(self, us: int) -> str:
        return stamp(us, self.suffix)

    def add(self, table: str, *values: Any) -> int:
        self.ids[table] += 1
        self.rows[table].append((self.ids[table], *values))
        return self.ids[table]

    def take(self) -> dict[str, list[tuple[Any, ...]]]:
        rows, self.rows = self.rows, {table: [] for table in COLUMNS}
        for table, batch in rows.items():
            self.counts[table] += len(batch)
        return rows

    def setup(self, start_us: int) -> None:
        """Products (popularity falls off like Zipf's law), barcodes, benches and people."""
        rng, created = self.rng, self.ts(start_us - 30 * DAY_US)
        for i in range(1, PRODUCTS + 1):
            weight = int(rng.lognormvariate(5.5, 0.7)) + 20
            pid = self.add("product", f"SKU-{i:05d}", f"Item {i} (family {(i - 1) // FAMILY})",
                           weight, False, False, False, created, created)  # fmt: skip
            body = f"0590{i:09d}"
            self.gtin[pid], self.weight_g[pid] = body + str(gtin_check_digit(body)), weight
            self.add("barcode", self.gtin[pid], pid, 1)
        self.products = list(range(1, PRODUCTS + 1))
        popularity = [1 / rank**0.9 for rank in range(1, PRODUCTS + 1)]
        rng.shuffle(popularity)  # popular items spread over the families
        total = 0.0
        for p in popularity:
            total += p
            self.cum_weights.append(total)
        self.stations = [self.add("station", f"BENCH-{s:02d}", created)
                         for s in range(1, STATIONS + 1)]  # fmt: skip
        for n in range(1, PACKERS + 1):
            uid = self.add("app_user", f"packer-{n:02d}", Role.PACKER.value, f"BADGE-{n:04d}",
                           created)  # fmt: skip
            self.packers.append(uid)
            self.error_rate[uid] = math.exp(rng.gauss(0, 0.45) - 0.1)
        self.supervisors = [self.add("app_user", f"supervisor-{n}", Role.SUPERVISOR.value, None,
                                     created) for n in range(1, SUPERVISORS + 1)]  # fmt: skip

    def lookalike(self, product: int, order: list[int]) -> int:
        """The product picked instead of `product`: mostly one of its family."""
        rng = self.rng
        family = (product - 1) // FAMILY * FAMILY
        while True:
            if rng.random() < 0.8:
                other = family + rng.randrange(FAMILY) + 1
            else:
                other = rng.randrange(PRODUCTS) + 1
            if other not in order:
                return other

    def day(self, day_us: int, parcels: int) -> None:
        """One day's parcels: a packer per bench and shift, closes spread over the shift."""
        rng = self.rng
        crew = rng.sample(self.packers, STATIONS * len(SHIFTS))
        slots = [(self.stations[s % STATIONS], crew[s], SHIFTS[s // STATIONS] * 3600 * US)
                 for s in range(len(crew))]  # fmt: skip
        work = []
        for _ in range(parcels):
            station, packer, shift = rng.choice(slots)
            closed = day_us + shift + rng.randrange(900 * US, 8 * 3600 * US)
            opened = closed - rng.randint(120, 900) * US  # whole seconds: raw SQL sums them
            work.append((opened, closed, station, packer))
        work.sort()
        for opened, closed, station, packer in work:
            self.parcel(opened, closed, station, packer)

    def parcel(self, opened: int, closed: int, station: int, packer: int) -> None:
        """A parcel's whole story: order, lines, scans, defects, override, shipment."""
        rng, m, ts = self.rng, self.error_rate[packer], self.ts
        k = rng.choices(LINES, LINE_WEIGHTS)[0]
        order: list[int] = []
        while len(order) < k:
            p = rng.choices(self.products, cum_weights=self.cum_weights)[0]
            if p not in order:
                order.append(p)
        qty = {p: rng.choices(QTYS, QTY_WEIGHTS)[0] for p in order}
        short: dict[int, int] = {}
        missing: dict[int, int] = {}
        if rng.random() < P_SHORT:
            p = rng.choice(order)
            short[p] = rng.randint(1, qty[p])
        if rng.random() < P_MISSING * m:
            p = rng.choice(order)
            if left := qty[p] - short.get(p, 0):
                missing[p] = rng.randint(1, left)
        good = {p: qty[p] - short.get(p, 0) - missing.get(p, 0) for p in order}
        damaged = None
        if rng.random() < P_DAMAGED * m and (packed := [p for p in order if good[p]]):
            damaged = rng.choice(packed)  # flagged, then a replacement scanned
        # Scans: (product, result, defect (kind, product, expected) or None)
        scans: list[tuple[int | None, str, tuple[str, int | None, int | None] | None]] = [
            (p, "accepted", None) for p in order for _ in range(good[p] + (p == damaged))
        ]
        if scans and rng.random() < P_WRONG * m:
            j = rng.randrange(len(scans))
            meant = scans[j][0]
            assert meant is not None
            # The app names the SKU expected instead only when one SKU is left to pick.
            to_pick = {s[0] for s in scans[j:]} | missing.keys() | short.keys()
            wrong = self.lookalike(meant, order)
            expected = meant if len(to_pick) == 1 else None
            scans.insert(j, (wrong, "wrong_item", ("wrong_item", wrong, expected)))
        if rng.random() < P_UNKNOWN * m:
            scans.insert(rng.randrange(len(scans) + 1), (None, "unknown_code",
                                                         ("wrong_item", None, None)))  # fmt: skip
        if rng.random() < P_OVER * m:
            done = [p for p in order if p not in missing and p not in short]
            if done:
                p = rng.choice(done)
                scans.append((p, "over_quantity", ("extra_item", p, None)))
        held = bool(missing) or rng.random() < P_WEIGHT
        weight_off = (held and not missing) or (bool(missing) and rng.random() < 0.1)

        pid = self.ids["parcel"] + 1
        number, ref = f"SO-{pid:09d}", f"C{rng.randrange(300_000):06d}"  # their own lookup keys
        self.add("customer_order", number, ref, number, ref,
                 ts(opened - rng.randrange(1800, 36 * 3600) * US), ts(opened))  # fmt: skip
        for p in order:
            self.add("order_line", pid, p, qty[p])
        defects: list[tuple[Any, ...]] = []  # (kind, product, expected, qty, scan, reason, at)
        n, first, span = len(scans), opened + 15 * US, max(closed - opened - 25 * US, US)
        for i, (product, result, defect) in enumerate(scans):
            at = first + (i * span + rng.randrange(span)) // max(n, 1)
            code = self.gtin[product] if product else f"29{rng.randrange(10**11):011d}"
            r = rng.random()
            source = "scanner" if r < 0.92 else "camera" if r < 0.98 else "manual"
            sid = self.add("scan", pid, station, f"{pid}-{i + 1}", code, source, result, product,
                           int(result == "accepted"), code if product else "0" + code,
                           ts(at), ts(at + rng.randrange(20_000, 120_000)), "{}")  # fmt: skip
            if defect is not None:
                defects.append((*defect, 1, sid, None, at))
        if damaged is not None:
            defects.append(("damaged_item", damaged, None, 1, None, None, closed - 60 * US))
        for p, units in short.items():
            defects.append(("short_ship", p, None, units, None, "out of stock", closed - 30 * US))
        for p, units in missing.items():
            defects.append(("missing_item", p, None, units, None, None, closed))
        expected_g = TARE_G + sum(self.weight_g[p] * good[p] for p in order)
        weight = expected_g + rng.randint(-15, 15)
        if weight_off:
            weight = int(expected_g * (1 + rng.choice((-1, 1)) * rng.uniform(0.1, 0.3)))
            defects.append(("weight_mismatch", None, None, 1, None, None, closed))

        status, shipped, voided, tracking = "passed", None, None, None
        released = closed
        if held:
            r = rng.random()
            if r < P_OVERRIDE:
                released = closed + rng.randrange(120, 3600) * US
                self.add("override", pid, rng.choice(self.supervisors), "checked and released",
                         ts(released))  # fmt: skip
            elif r < P_OVERRIDE + P_VOID:
                status, voided = "voided", ts(closed + rng.randrange(600, 4 * 3600) * US)
            else:
                status = "held"
        if status == "passed" and rng.random() < P_SHIP:
            status, tracking = "shipped", f"TRK{pid:012d}"
            shipped_us = released + rng.randrange(1800, 8 * 3600) * US
            shipped = ts(shipped_us)
            if rng.random() < P_ESCAPED * m:
                kind = rng.choice(("wrong_item", "wrong_item", "missing_item", "damaged_item"))
                p = rng.choice(order)
                p = self.lookalike(p, order) if kind == "wrong_item" else p
                when = min(shipped_us + rng.randrange(2 * DAY_US, 21 * DAY_US), self.end_us)
                defects.append((kind, p, None, 1, None, "customer complaint", when, "escaped"))
        self.add("parcel", pid, station, packer, status, weight, expected_g, tracking, tracking,
                 None, ts(opened), ts(closed), shipped, voided)  # fmt: skip
        for p in order:
            accepted = good[p] + (p == damaged)
            self.add("parcel_line", pid, p, qty[p], 0, accepted, int(p == damaged),
                     short.get(p, 0))  # fmt: skip
        for kind, p, expected, units, scan, reason, at, *stage in defects:
            self.add("defect", pid, kind, stage[0] if stage else "caught", p, expected, units,
                     station, packer, scan, reason, ts(at))  # fmt: skip


def day_counts(parcels: int, first: date, days: int) -> list[int]:
    """Parcels per day: weekdays busier, a year-on-year growth, a peak before Christmas."""
    weights = []
    for i in range(days):
        d = first + timedelta(days=i)
        peak = 1.6 if (d.month, d.day) >= (11, 15) and (d.month, d.day) <= (12, 20) else 1.0
        weights.append(WEEKDAY[d.weekday()] * (0.75 + 0.5 * i / max(days - 1, 1)) * peak)
    total, out, given, acc = sum(weights), [], 0, 0.0
    for w in weights:  # cumulative rounding: the days add up to exactly `parcels`
        acc += w
        n = round(parcels * acc / total) - given
        out.append(n)
        given += n
    return out


def generate(engine: sa.Engine, args: argparse.Namespace, first: date) -> float:
    """Fill the database; the seconds spent writing (inserts and commits)."""
    pg = engine.dialect.name == "postgresql"
    start_us = int(datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp()) * US
    end_us = start_us + args.days * DAY_US
    history = History(random.Random(args.seed), "+00" if pg else "", end_us)
    counts = day_counts(args.parcels, first, args.days)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("parcels"), TimeElapsedColumn(), TimeRemainingColumn()]  # fmt: skip
    with Progress(*columns, console=console) as progress, engine.connect() as conn:
        task = progress.add_task(f"{engine.dialect.name}: generating", total=args.parcels)
        if not pg:  # a bigger page cache for the load's index updates
            conn.exec_driver_sql("PRAGMA cache_size=-262144")
        loader = Loader(conn)
        history.setup(start_us)
        done = committed = 0
        for i, n in enumerate(counts):
            history.day(start_us + i * DAY_US, n)
            done += n
            if len(history.rows["parcel"]) >= 10_000 or i == len(counts) - 1:
                for table, rows in history.take().items():
                    loader.write(table, rows)
                if done - committed >= 100_000 or i == len(counts) - 1:
                    start = time.perf_counter()
                    conn.commit()
                    loader.seconds += time.perf_counter() - start
                    committed = done
                progress.update(task, completed=done)
        loader.advance_sequences()
        conn.commit()
    return loader.seconds


# ------------------------------------------------------------------------------- raw SQL


@dataclass(frozen=True)
class Dialect:
    """The few expressions that differ: closing day and week (UTC), and seconds between."""

    pg: bool

    def day(self, col: str) -> str:
        return f"CAST(({col} AT TIME ZONE 'UTC') AS DATE)" if self.pg else f"substr({col}, 1, 10)"

    def week(self, col: str) -> str:
        if self.pg:
            return f"CAST(date_trunc('week', {col} AT TIME ZONE 'UTC') AS DATE)"
        return f"date({col}, 'weekday 0', '-6 days')"  # the Monday of its ISO week

    def seconds(self, a: str, b: str) -> str:
        if self.pg:
            return f"EXTRACT(EPOCH FROM ({b} - {a}))"
        return f"ROUND((julianday({b}) - julianday({a})) * 86400)"


CAUGHT = "EXISTS (SELECT 1 FROM defect d WHERE d.parcel_id = p.id AND d.stage = 'caught')"
ESCAPED = "EXISTS (SELECT 1 FROM defect d WHERE d.parcel_id = p.id AND d.stage = 'escaped')"
ANY_DEFECT = "EXISTS (SELECT 1 FROM defect d WHERE d.parcel_id = p.id)"
NO_OVERRIDE = "NOT EXISTS (SELECT 1 FROM override o WHERE o.parcel_id = p.id)"
SKU_OR_NONE = "COALESCE(pr.sku, '(no SKU)')"
# Every query counts the parcels closed in the period: p.closed_at in [lo, hi).
RATE_SQL = """
    SELECT {key}, COUNT(*), SUM(CASE WHEN {caught} THEN 1 ELSE 0 END)
    FROM parcel p {join}
    WHERE p.closed_at >= :lo AND p.closed_at < :hi
    GROUP BY {key}"""
SKU_UNITS_SQL = """
    SELECT pr.sku, SUM(l.accepted - l.damaged)
    FROM parcel_line l JOIN parcel p ON p.id = l.parcel_id JOIN product pr ON pr.id = l.product_id
    WHERE p.closed_at >= :lo AND p.closed_at < :hi AND l.accepted > l.damaged
    GROUP BY pr.sku"""
DEFECTS_SQL = """
    SELECT {key}, COUNT(DISTINCT d.parcel_id), SUM(d.qty)
    FROM defect d JOIN parcel p ON p.id = d.parcel_id LEFT JOIN product pr ON pr.id = d.product_id
    WHERE p.closed_at >= :lo AND p.closed_at < :hi {stage}
    GROUP BY {key}"""
TOTALS_SQL = """
    SELECT COUNT(*), COUNT(p.shipped_at),
           SUM(CASE WHEN p.status IN ('passed', 'shipped') AND {no_override} AND NOT {caught}
               THEN 1 ELSE 0 END),
           SUM(CASE WHEN {caught} THEN 1 ELSE 0 END), SUM(CASE WHEN {escaped} THEN 1 ELSE 0 END)
    FROM parcel p
    WHERE p.closed_at >= :lo AND p.closed_at < :hi"""
CONFUSIONS_SQL = """
    SELECT e.sku, s.sku, COUNT(*)
    FROM defect d JOIN parcel p ON p.id = d.parcel_id
         JOIN product e ON e.id = d.expected_product_id JOIN product s ON s.id = d.product_id
    WHERE p.closed_at >= :lo AND p.closed_at < :hi AND d.kind = 'wrong_item'
          AND d.stage = 'caught'
    GROUP BY e.sku, s.sku"""
PACKERS_SQL = """
    SELECT u.name, COUNT(*), SUM(x.units), SUM(x.seconds), SUM(x.bad)
    FROM (SELECT p.packer_id, {seconds} AS seconds,
                 (SELECT COALESCE(SUM(l.accepted - l.damaged), 0) FROM parcel_line l
                  WHERE l.parcel_id = p.id AND l.accepted > l.damaged) AS units,
                 CASE WHEN {any_defect} THEN 1 ELSE 0 END AS bad
          FROM parcel p
          WHERE p.closed_at >= :lo AND p.closed_at < :hi) x
         JOIN app_user u ON u.id = x.packer_id
    GROUP BY u.name"""


def _rows(conn: sa.Connection, sql: str, period: Period) -> list[Any]:
    lo = datetime(period.start.year, period.start.month, period.start.day, tzinfo=UTC)
    statement = sa.text(sql).bindparams(
        sa.bindparam("lo", type_=UTCDateTime()), sa.bindparam("hi", type_=UTCDateTime())
    )
    return list(conn.execute(statement, {"lo": lo, "hi": lo + timedelta(days=period.days)}))


def _iso_week(value: Any) -> str:
    year, week, _ = date.fromisoformat(str(value)).isocalendar()
    return f"{year}-W{week:02d}"


RawQuery = Callable[[sa.Connection, Dialect, Period], Any]


def raw_rate(by: str) -> RawQuery:
    """Parcels closed and those with a caught defect, per day / week / station / packer."""

    def run(conn: sa.Connection, d: Dialect, period: Period) -> Any:
        key, join = {
            "day": (d.day("p.closed_at"), ""),
            "week": (d.week("p.closed_at"), ""),
            "station": ("s.code", "JOIN station s ON s.id = p.station_id"),
            "packer": ("u.name", "JOIN app_user u ON u.id = p.packer_id"),
        }[by]
        sql = RATE_SQL.format(key=key, join=join, caught=CAUGHT)
        label = _iso_week if by == "week" else str
        return {label(k): (int(n), int(bad)) for k, n, bad in _rows(conn, sql, period)}

    return run


def raw_sku(conn: sa.Connection, d: Dialect, period: Period) -> Any:
    """Good units packed per SKU, and caught defect units per SKU."""
    units = _rows(conn, SKU_UNITS_SQL, period)
    sql = DEFECTS_SQL.format(key=SKU_OR_NONE, stage="AND d.stage = 'caught'")
    defects = {k: int(q) for k, _, q in _rows(conn, sql, period)}
    out = {k: (int(n), defects.pop(k, 0)) for k, n in units}
    return out | {k: (0, q) for k, q in defects.items()}


def raw_kind(conn: sa.Connection, d: Dialect, period: Period) -> Any:
    """Parcels closed; per kind, parcels with a caught defect of it, and its units."""
    total = int(_rows(conn, RATE_SQL.format(key="1", join="", caught=CAUGHT), period)[0][1])
    sql = DEFECTS_SQL.format(key="d.kind", stage="AND d.stage = 'caught'")
    return {k: (total, int(n), int(q)) for k, n, q in _rows(conn, sql, period)}


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 6) if b else None


def raw_totals(conn: sa.Connection, period: Period) -> dict[str, Any]:
    sql = TOTALS_SQL.format(no_override=NO_OVERRIDE, caught=CAUGHT, escaped=ESCAPED)
    parcels, shipped, first, caught, escaped = (int(v or 0) for v in _rows(conn, sql, period)[0])
    sql = DEFECTS_SQL.format(key="d.stage", stage="")
    qty = {stage: int(q) for stage, _, q in _rows(conn, sql, period)}
    d_caught, d_escaped = qty.get("caught", 0), qty.get("escaped", 0)
    return {
        "parcels_closed": parcels,
        "parcels_shipped": shipped,
        "first_pass_yield": _ratio(first, parcels),
        "caught_rate": _ratio(caught, parcels),
        "escaped_rate": _ratio(escaped, shipped),
        "caught_share": _ratio(d_caught, d_caught + d_escaped),
        "defects_caught": d_caught,
        "defects_escaped": d_escaped,
    }


def raw_summary(conn: sa.Connection, d: Dialect, period: Period) -> Any:
    days = timedelta(days=period.days)
    before = Period(start=period.start - days, end=period.end - days)
    return raw_totals(conn, period), raw_totals(conn, before)


def raw_pareto(by: str) -> RawQuery:
    """Defect units (both stages) per SKU or kind."""

    def run(conn: sa.Connection, d: Dialect, period: Period) -> Any:
        sql = DEFECTS_SQL.format(key=SKU_OR_NONE if by == "sku" else "d.kind", stage="")
        return {k: int(q) for k, _, q in _rows(conn, sql, period) if q}

    return run


def raw_confusions(conn: sa.Connection, d: Dialect, period: Period) -> Any:
    return {(e, s): int(n) for e, s, n in _rows(conn, CONFUSIONS_SQL, period)}


def raw_packers(conn: sa.Connection, d: Dialect, period: Period) -> Any:
    """Per packer: parcels, good units, hours from opening to closing, share with a defect."""
    seconds = d.seconds("p.opened_at", "p.closed_at")
    sql = PACKERS_SQL.format(seconds=seconds, any_defect=ANY_DEFECT)
    return {
        k: (int(n), int(u), round(int(s) / 3600, 3), _ratio(int(b), int(n)))
        for k, n, u, s, b in _rows(conn, sql, period)
    }


# ------------------------------------------------------------------------- the statistics


def _rate_rows(*fields: str) -> Callable[[Any], Any]:
    """Rows of a defect rate as the raw SQL gives them: by key, the non-empty ones."""

    def norm(body: Any) -> Any:
        return {
            r.key: tuple(getattr(r, f) for f in fields)
            for r in body.rows
            if r.parcels or r.defective_parcels or r.defects or r.units
        }

    return norm


@dataclass(frozen=True)
class Query:
    name: str
    endpoint: str
    params: dict[str, str]
    call: Callable[..., Any]  # qc.stats, with session= and period=
    normalize: Callable[[Any], Any]  # its answer, as the raw SQL gives it
    raw: RawQuery
    http: bool = True  # False: a variant of the code, timed direct only


def queries() -> list[Query]:
    out = []
    for by in ("day", "week", "station", "packer", "sku", "kind"):
        raw: RawQuery
        if by == "sku":
            raw, norm = raw_sku, _rate_rows("units", "defects")
        elif by == "kind":
            raw, norm = raw_kind, _rate_rows("parcels", "defective_parcels", "defects")
        else:
            raw, norm = raw_rate(by), _rate_rows("parcels", "defective_parcels")
        call = _bind(stats.defect_rate, group_by=by, stage="caught")
        params = {"group_by": by, "stage": "caught"}
        out.append(Query(f"defect-rate {by}", "defect-rate", params, call, norm, raw))
        if by == "sku":  # side by side: the same without stat_sku_total
            out.append(Query("  months only", "defect-rate", params, _months_only(call), norm,
                             raw, http=False))  # fmt: skip
    both = lambda b: (b.current.model_dump(), b.previous.model_dump())  # noqa: E731
    out.append(Query("summary", "summary", {}, _bind(stats.summary), both, raw_summary))
    for dim in ("sku", "kind"):
        call = _bind(stats.pareto, dimension=dim, stage="all")
        norm = lambda b: {r.key: r.defects for r in b.rows}  # noqa: E731
        params = {"dimension": dim, "stage": "all"}
        out.append(Query(f"pareto {dim}", "pareto", params, call, norm, raw_pareto(dim)))
    norm = lambda b: {(r.expected_sku, r.scanned_sku): r.count for r in b.rows}  # noqa: E731
    # Every pair, not the default 100 most frequent: the worst case, comparable with raw SQL.
    out.append(Query("confusions", "confusions", {"limit": 10_000},
                     _bind(stats.confusions, limit=10_000), norm, raw_confusions))  # fmt: skip
    norm = lambda b: {r.packer: (r.parcels, r.units, r.hours, r.defect_rate) for r in b.rows}  # noqa: E731
    out.append(Query("packers", "packers", {}, _bind(stats.packers), norm, raw_packers))
    return out


def _months_only(call: Callable[..., Any]) -> Callable[..., Any]:
    """`call` as it ran before stat_sku_total: with no history known, a view by SKU reads the
    whole months inside the period, never the total less the months outside."""

    def months_only(session: Any, period: Period) -> Any:
        history = stats_query._history
        stats_query._history = lambda connection: None
        try:
            return call(session, period)
        finally:
            stats_query._history = history

    return months_only


def _bind(fn: Callable[..., Any], **fixed: Any) -> Callable[..., Any]:
    def call(session: Any, period: Period) -> Any:
        return fn(session=session, period=period, filters=Filters(), **fixed)

    return call


def timed(run: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    """Milliseconds of each run after one warm-up (3 runs if the warm-up was slow); the answer."""
    gc.collect()
    start = time.perf_counter()
    answer = run()
    if time.perf_counter() - start > SLOW_S:
        runs = min(runs, 3)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times), answer


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted `values`."""
    return values[min(len(values) - 1, max(0, math.ceil(q / 100 * len(values)) - 1))]


@dataclass
class Result:
    query: Query
    label: str  # the period
    rollup: list[float]
    http: list[float] | None
    raw: list[float]
    same: bool
    difference: str = ""


def measure(
    engine: sa.Engine,
    key: str | None,
    periods: dict[str, Period],
    args: argparse.Namespace,
    tmp: Path,
) -> tuple[list[Result], str]:
    """Every query for every period: qc.stats direct, over HTTP, and from raw rows."""
    dialect, results, http_note = Dialect(engine.dialect.name == "postgresql"), [], ""
    client, app_context = None, None
    if key is not None:
        try:
            from fastapi.testclient import TestClient

            from api.main import create_app

            app = create_app(engine=engine, photo_store=FsPhotoStore(tmp / "photos"))
            app_context = TestClient(app, headers={"Authorization": f"Bearer {key}"})
            client = app_context.__enter__()
        except Exception as exc:  # the app is other people's work in progress: time without it
            http_note = f"HTTP not timed: {type(exc).__name__}: {exc}"
    try:
        for label, period in periods.items():
            for q in queries():

                def direct(q: Query = q, period: Period = period) -> Any:
                    with session_for(engine, write=False) as session:
                        return q.call(session, period)

                def raw(q: Query = q, period: Period = period) -> Any:
                    with engine.connect() as conn:
                        return q.raw(conn, dialect, period)

                rollup_ms, body = timed(direct, args.runs)
                http_ms = None
                if client is not None and q.http:
                    params = {"from": period.start.isoformat(), "to": period.end.isoformat()}
                    url = f"{API}/{q.endpoint}"

                    def over_http(
                        url: str = url, params: dict[str, str] = params | q.params
                    ) -> Any:
                        answer = client.get(url, params=params)
                        answer.raise_for_status()
                        return answer

                    http_ms, _ = timed(over_http, args.runs)
                raw_ms, raw_answer = timed(raw, args.runs)
                got, want = q.normalize(body), raw_answer
                result = Result(q, label, rollup_ms, http_ms, raw_ms, got == want)
                if not result.same:
                    result.difference = _first_difference(got, want)
                results.append(result)
                rollup_p50, raw_p50 = statistics.median(rollup_ms), statistics.median(raw_ms)
                line = (
                    f"  {q.name:<20} {label:<9} rollup {rollup_p50:9.1f} ms  raw {raw_p50:9.1f} ms"
                )
                console.print(line, highlight=False, markup=False)
    finally:
        if app_context is not None:
            app_context.__exit__(None, None, None)
    return results, http_note


def _first_difference(got: Any, want: Any) -> str:
    if isinstance(got, dict) and isinstance(want, dict):
        for k in sorted(got.keys() | want.keys(), key=str):
            if got.get(k) != want.get(k):
                return f"{k!r}: rollup {got.get(k)!r}, raw {want.get(k)!r}"
    return f"rollup {str(got)[:200]}, raw {str(want)[:200]}"


# ---------------------------------------------------------------------------------- driver


CELL_KINDS_SQL = """
    SELECT CASE WHEN sku_id = 0 AND kind = '' AND stage = '' THEN 'all SKUs, all kinds'
                WHEN kind = '' AND stage = '' THEN 'one SKU, all kinds'
                ELSE 'defect kind or stage' END AS what, COUNT(*)
    FROM stat_cell GROUP BY what ORDER BY what"""


@dataclass
class EngineRun:
    engine: str
    version: str = "-"
    generate_s: float = 0.0
    write_s: float = 0.0  # of which inserting and committing
    rebuild_s: float = 0.0
    analyze_s: float = 0.0
    rebuilt: tuple[int, int] = (0, 0)
    counts: dict[str, int] = field(default_factory=dict)
    size_mb: float = 0.0
    cells: dict[str, int] = field(default_factory=dict)  # stat_cell rows by what they count
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def bench_engine(name: str, args: argparse.Namespace, tmp: Path) -> EngineRun:
    run = EngineRun(name)
    if name == "sqlite":
        path = tmp / "stats.db"
        url = f"sqlite:///{path}"
    else:
        url = reset_pg_schema(args.pg_url, create=True, schema=PG_SCHEMA)
    end = datetime.now(UTC).date() - timedelta(days=1)
    first = end - timedelta(days=args.days - 1)
    engine = make_engine(url)  # as the server makes it: what the timings see
    try:
        upgrade(url)
        start = time.perf_counter()
        run.write_s = generate(make_engine(url, poolclass=NullPool), args, first)
        run.generate_s = time.perf_counter() - start
        console.print(f"[{name}] generated in {run.generate_s:.0f} s; rebuilding the rollups…",
                      highlight=False, markup=False)  # fmt: skip
        start = time.perf_counter()
        with console.status(f"{name}: rebuild"), session_for(engine, write=True) as session:
            run.rebuilt = rebuild(session, ZoneInfo("UTC"))
            session.commit()
        run.rebuild_s = time.perf_counter() - start
        start = time.perf_counter()
        if name == "postgres":  # VACUUM too, as autovacuum would have by now in a warehouse's
            # database (it may be off on a test server): index-only scans then skip the heap
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        else:
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        run.analyze_s = time.perf_counter() - start
        with engine.connect() as conn:
            run.version = ".".join(map(str, engine.dialect.server_version_info or ()))
            for table in COUNTED:
                run.counts[table] = int(conn.exec_driver_sql(f'SELECT COUNT(*) FROM "{table}"')
                                        .scalar_one())  # fmt: skip
            if name == "postgres":
                size = conn.exec_driver_sql(
                    "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n"
                    f" ON n.oid = c.relnamespace WHERE n.nspname = '{PG_SCHEMA}'"
                    " AND c.relkind = 'r'"
                ).scalar_one()
                run.size_mb = int(size) / 2**20
            whole = raw_totals(conn, Period(start=first, end=end))
            refused = conn.exec_driver_sql(
                "SELECT COUNT(*) FROM scan WHERE result <> 'accepted'"
            ).scalar_one()
            run.cells = dict(conn.exec_driver_sql(CELL_KINDS_SQL).all())
        parcels = max(run.counts["parcel"], 1)
        run.notes.append(
            f"history: {run.counts['scan'] / parcels:.2f} scans a parcel, "
            f"{refused / max(run.counts['scan'], 1):.1%} of scans refused, "
            f"caught rate {whole['caught_rate'] or 0:.2%}, first-pass yield "
            f"{whole['first_pass_yield'] or 0:.2%}, {whole['parcels_shipped'] / parcels:.1%} "
            f"shipped, escaped rate {whole['escaped_rate'] or 0:.2%} of shipped"
        )
        if name == "sqlite":
            run.size_mb = sum(p.stat().st_size for p in tmp.glob("stats.db*")) / 2**20
        console.print(f"[{name}] rebuilt in {run.rebuild_s:.0f} s, (VACUUM) ANALYZE "
                      f"{run.analyze_s:.1f} s; timing…", highlight=False, markup=False)  # fmt: skip
        key = None
        with session_for(engine, write=True) as session:
            _, key = add_user(session=session, name="bench-manager", role=Role.MANAGER)
            session.commit()
        periods = {"28 days": Period(start=end - timedelta(days=27), end=end),
                   f"{args.days} days": Period(start=first, end=end)}  # fmt: skip
        # As a server does at start-up (api.main.lifespan): what is alive now is frozen, so that
        # the collector's full passes do not walk it. Without this the second engine's timings
        # carry the first's and the load's leftovers: full passes of 60-80 ms in one run of 7.
        gc.collect()
        gc.freeze()
        run.results, http_note = measure(engine, key, periods, args, tmp)
        if http_note:
            run.notes.append(http_note)
    finally:
        engine.dispose()
        if args.keep:
            run.notes.append(f"kept: {url}")
        elif name == "postgres":
            reset_pg_schema(args.pg_url, create=False, schema=PG_SCHEMA)
        else:
            for p in tmp.glob("stats.db*"):
                p.unlink()
    return run


HEAD = ["query", "period", "rollup p50", "p95", "HTTP p50", "p95", "raw p50", "p95",
        "raw/rollup", "same", "target"]  # fmt: skip


def report(run: EngineRun) -> None:
    counts = ", ".join(f"{t} {n:,}" for t, n in run.counts.items())
    days, cells = run.rebuilt
    p = run.counts.get("parcel", 0)
    print(f"\n== {run.engine} {run.version} ==")
    print(f"generation {run.generate_s:.0f} s ({p / max(run.generate_s, 1e-9):,.0f} parcels/s, "
          f"{run.write_s:.0f} s of it writing), "
          f"rebuild {run.rebuild_s:.0f} s ({days} days, {cells:,} cells), "
          f"(VACUUM) ANALYZE {run.analyze_s:.1f} s, database {run.size_mb:,.0f} MiB")  # fmt: skip
    print(f"rows: {counts}")
    print("stat_cell rows: " + ", ".join(f"{what} {n:,}" for what, n in run.cells.items()))
    rows = []
    for r in run.results:
        http = r.http or []
        verdict = "PASS" if pct(http or r.rollup, 95) < TARGET_MS else "FAIL"
        verdict = verdict if r.query.http else "-"  # a variant, not the code that serves
        rows.append([r.query.name, r.label, f"{statistics.median(r.rollup):.1f}",
                     f"{pct(r.rollup, 95):.1f}",
                     f"{statistics.median(http):.1f}" if http else "-",
                     f"{pct(http, 95):.1f}" if http else "-",
                     f"{statistics.median(r.raw):.1f}", f"{pct(r.raw, 95):.1f}",
                     f"{statistics.median(r.raw) / statistics.median(r.rollup):.1f}x",
                     "yes" if r.same else "NO", verdict])  # fmt: skip
    widths = [max(map(len, column)) for column in zip(HEAD, *rows, strict=True)]
    for texts in [HEAD, ["-" * w for w in widths], *rows]:
        line = "  ".join(c.ljust(w) if j < 2 else c.rjust(w)
                         for j, (c, w) in enumerate(zip(texts, widths, strict=True)))  # fmt: skip
        print(line.rstrip())
    print(f"\ntarget: every endpoint under {TARGET_MS:g} ms (p95 over HTTP, else direct):")
    worst: dict[str, tuple[float, str]] = {}
    for r in run.results:
        if not r.query.http:
            continue
        ms = pct(r.http or r.rollup, 95)
        if ms > worst.get(r.query.endpoint, (-1.0, ""))[0]:
            worst[r.query.endpoint] = (ms, f"{r.query.name}, {r.label}")
    for endpoint, (ms, where) in worst.items():
        met = "met" if ms < TARGET_MS else "MISSED"
        print(f"  /stats/{endpoint:<12} {met:<6} slowest {ms:8.1f} ms ({where})")
    for r in run.results:
        if not r.same:
            print(f"  rollup and raw differ, {r.query.name} ({r.label}): {r.difference}")
    for note in run.notes:
        print(f"  {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parcels", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--days", type=int, default=730, help="of history, ending yesterday")
    parser.add_argument("--runs", type=int, default=7, help="timed runs after one warm-up")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--keep", action="store_true", help="keep the databases (to EXPLAIN); says where they are"
    )
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not engines or set(engines) - {"sqlite", "postgres"}:
        parser.error("--engines takes sqlite and/or postgres")
    if args.parcels < args.days or not 28 <= args.days <= 3 * 366 - 1 or args.runs < 1:
        parser.error("--days is 28 to 1097, --parcels at least --days, --runs at least 1")

    print(f"stats: {args.parcels:,} parcels over {args.days} days, engines {', '.join(engines)}, "
          f"{args.runs} runs after a warm-up (3 if one takes over {SLOW_S:g} s), seed {args.seed}",
          flush=True)  # fmt: skip
    started, runs = time.perf_counter(), []
    tmp = Path(tempfile.mkdtemp(prefix="qc-bench-stats-"))
    try:
        for name in engines:
            try:
                runs.append(bench_engine(name, args, tmp))
            except Exception as exc:
                console.print_exception()
                print(f"[{name}] run failed: {type(exc).__name__}: {exc}")
    finally:
        if not args.keep or not any(tmp.iterdir()):
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nnproc {os.cpu_count()} | Python {sys.version.split()[0]} | SQLite "
          f"{sqlite3.sqlite_version} | sum(range(1000)): {machine_speed_us():.1f} µs | "
          f"whole run {time.perf_counter() - started:.0f} s")  # fmt: skip
    measured = (
        "qc/stats.py",
        "qc/stats_query.py",
        "qc/rollups.py",
        "qc/rollup_grains.py",
        "qc/rollup_cells.py",
        "qc/rollup_rebuild.py",
    )
    root = Path(__file__).resolve().parent.parent
    print("code measured: " + ", ".join(
        f"{m} {hashlib.sha256((root / m).read_bytes()).hexdigest()[:8]}" for m in measured
    ))  # fmt: skip
    print(
        "milliseconds; rollup: qc.stats with a session; HTTP: the endpoint through TestClient; "
        "raw: the same figures in plain SQL from parcel, parcel_line, defect, override; "
        "'months only': defect rate by SKU without stat_sku_total, as before it"
    )
    for run in runs:
        report(run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
