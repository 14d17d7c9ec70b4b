"""GET /metrics: counters that move once per new answer (never for a replay), latency by route
template, and totals summed over `qc serve --workers N` processes whichever one answers.

Counters are process-global and earlier tests of the same worker moved them too: every check
compares a reading before with one after.
"""

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session

from api import metrics
from api.db import make_engine, session_for
from api.serve import METRICS_DIR_VAR, share_metrics
from qc import verification
from tests.api.test_packing import close, open_parcel, scan
from tests.api.test_photos import GOOD, upload
from tests.api.test_serve import _free_port, _sockets
from tests.factories import CABLE, MUG, PHONE, World, make_order, make_world
from tests.photo_images import jpeg, parcel_scene

METRICS_URL = "http://testserver/metrics"
SCANS_ROUTE = "/api/v1/parcels/{parcel_id}/scans"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def read(client: TestClient) -> Samples:
    response = client.get(METRICS_URL)
    assert response.status_code == 200
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture
def world(session: Session) -> World:
    world = make_world(session)
    make_order(session, number="2001", lines=[("MUG", 1)])
    session.flush()
    return world


def test_metrics_are_prometheus_text_without_a_key(client: TestClient) -> None:
    response = client.get(METRICS_URL)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    families = {family.name for family in text_string_to_metric_families(response.text)}
    assert {
        "qc_scans",
        "qc_parcels_closed",
        "qc_parcels_shipped",
        "qc_overrides",
        "qc_defects",
        "qc_photos",
        "qc_http_request_duration_seconds",
    } <= families
    # Bounded label sets are there from the start, at zero or more.
    assert ("qc_scans_total", frozenset({("result", "duplicate_serial")})) in parse(response.text)


def test_the_refusal_defects_are_the_verification_rules(client: TestClient) -> None:
    assert metrics.REFUSAL_DEFECTS == verification._REFUSAL_DEFECTS


def test_packing_counts_each_new_answer_once(client: TestClient, world: World) -> None:
    before = read(client)
    # Given a parcel held at close: one accepted scan, a wrong item, and a replay of the first.
    held = open_parcel(client, world)
    first = scan(client, world, held["id"], MUG, event_id="metrics-ev-1")
    assert scan(client, world, held["id"], PHONE)["result"] == "wrong_item"
    assert scan(client, world, held["id"], MUG, event_id="metrics-ev-1") == first
    closed = close(client, world, held["id"])
    assert closed["status"] == "held"
    # And one that passes, with one unit too many refused, closed and shipped, each POST twice
    # under one Idempotency-Key.
    passed = open_parcel(client, world, order="2001")
    assert scan(client, world, passed["id"], MUG)["result"] == "accepted"
    assert scan(client, world, passed["id"], MUG)["result"] == "over_quantity"
    for _ in range(2):
        answer = client.post(
            f"/parcels/{passed['id']}/close",
            headers={**world.auth("station"), "Idempotency-Key": "metrics-close"},
        )
        assert answer.status_code == 200 and answer.json()["status"] == "passed"
    for _ in range(2):
        answer = client.post(
            f"/parcels/{passed['id']}/ship",
            json={"tracking_number": "1Z999AA10123456784"},
            headers={**world.auth("station"), "Idempotency-Key": "metrics-ship"},
        )
        assert answer.status_code == 200, answer.text
    assert answer.headers["Idempotent-Replayed"] == "true"
    for _ in range(2):
        answer = client.post(
            f"/parcels/{held['id']}/override",
            json={"reason": "customer agreed to a partial parcel"},
            headers={**world.auth("supervisor"), "Idempotency-Key": "metrics-override"},
        )
        assert answer.status_code == 200, answer.text

    after = read(client)

    assert delta(before, after, "qc_scans_total", result="accepted") == 2
    assert delta(before, after, "qc_scans_total", result="wrong_item") == 1
    assert delta(before, after, "qc_scans_total", result="over_quantity") == 1
    assert delta(before, after, "qc_parcels_closed_total", verdict="held") == 1
    assert delta(before, after, "qc_parcels_closed_total", verdict="passed") == 1
    assert delta(before, after, "qc_parcels_shipped_total") == 1
    assert delta(before, after, "qc_overrides_total") == 1
    found_at_close = {(d["kind"], d["sku"]) for d in closed["defects"]}
    assert found_at_close == {("missing_item", "MUG"), ("missing_item", "CABLE")}
    caught = {
        kind: delta(before, after, "qc_defects_total", kind=kind, stage="caught")
        for kind in ("wrong_item", "extra_item", "missing_item", "weight_mismatch")
    }
    assert caught == {"wrong_item": 1, "extra_item": 1, "missing_item": 2, "weight_mismatch": 0}
    assert delta(before, after, "qc_defects_total", kind="wrong_item", stage="escaped") == 0


def test_latency_is_labelled_by_route_template_never_by_raw_path(
    client: TestClient, world: World
) -> None:
    before = read(client)
    parcel = open_parcel(client, world)
    scan(client, world, parcel["id"], MUG)
    scan(client, world, parcel["id"], f"]E4{CABLE}")
    missing = client.get("/parcels/987654", headers=world.auth("support"))
    assert missing.status_code == 404
    assert client.get("http://testserver/no/such/page/123456").status_code == 404
    after = read(client)

    count = "qc_http_request_duration_seconds_count"
    scans = {"method": "POST", "route": SCANS_ROUTE, "status": "200"}
    assert delta(before, after, count, **scans) == 2
    assert delta(before, after, count, method="POST", route="/api/v1/parcels", status="201") == 1
    assert (
        delta(before, after, count, method="GET", route="/api/v1/parcels/{parcel_id}", status="404")
        == 1
    )
    assert delta(before, after, count, method="GET", route="unmatched", status="404") == 1
    # Buckets are cumulative: a scan in process answers well under 2.5 s.
    assert delta(before, after, "qc_http_request_duration_seconds_bucket", le="2.5", **scans) == 2
    routes = {
        dict(labels)["route"]
        for name, labels in after
        if name.startswith("qc_http_request_duration_seconds")
    }
    assert any(route.startswith("/api/v1/") for route in routes)
    templates = set(metrics.route_templates(client.app.routes).values())  # type: ignore[attr-defined]
    assert routes <= templates | {"unmatched"}
    assert not any(part.isdigit() for route in routes for part in route.split("/"))


def test_photos_count_kept_and_rejected_once(client: TestClient, world: World) -> None:
    parcel = open_parcel(client, world)
    before = read(client)
    assert upload(client, world, parcel["id"], GOOD).status_code == 201
    assert upload(client, world, parcel["id"], GOOD).status_code == 200  # the same file: no count
    blurred = jpeg(cv2.GaussianBlur(parcel_scene(1600, 1200), (0, 0), 5))
    assert upload(client, world, parcel["id"], blurred).status_code == 422
    after = read(client)

    assert delta(before, after, "qc_photos_total", outcome="kept") == 1
    assert delta(before, after, "qc_photos_total", outcome="rejected") == 1


def test_serve_gives_workers_a_fresh_metrics_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(METRICS_DIR_VAR, raising=False)  # restored after the test
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: its pid names no process now
    dead = tmp_path / str(child.pid)  # the folder of a supervisor that was killed
    dead.mkdir()
    (dead / "counter_1.db").write_bytes(b"old")
    mine = tmp_path / str(os.getpid())
    mine.mkdir()
    (mine / "counter_2.db").write_bytes(b"old")

    folder = share_metrics(tmp_path)

    assert folder == mine and list(folder.iterdir()) == []
    assert os.environ[METRICS_DIR_VAR] == str(folder)
    assert not dead.exists()


# -- several worker processes --------------------------------------------------------------

CONNECTIONS = 16  # all on one of two workers by chance: about 3 in 100,000 (see test_serve)


def _qc(env: dict[str, str], *args: str) -> str:
    qc = Path(sys.executable).with_name("qc")
    done = subprocess.run(
        [str(qc), *args], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


def _call(
    conn: http.client.HTTPConnection, method: str, path: str, key: str = "", body: object = None
) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = conn.getresponse()
    return response.status, response.read().decode()


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, dict[str, str]]]:
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"} | {
        "QC_DATABASE_URL": f"sqlite:///{tmp_path / 'qc.db'}",
        "QC_DATA_DIR": str(tmp_path),
        "QC_LOG_LEVEL": "warning",
    }
    _qc(env, "db", "upgrade")
    keys = {"station": _qc(env, "station", "add", "X")}
    engine = make_engine(env["QC_DATABASE_URL"])
    with session_for(engine, write=True) as session:
        make_world(session)  # its packer's badge is P-001; the server's station is X
        make_order(session, number="MP-1", lines=[("MUG", CONNECTIONS)])
        session.commit()
    engine.dispose()
    port = _free_port()
    qc = Path(sys.executable).with_name("qc")
    proc = subprocess.Popen([str(qc), "serve", "--port", str(port), "--workers", "2"], env=env)
    deadline = time.monotonic() + 30
    while len(_sockets(port, "0A")) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    yield proc, port, keys
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_workers_add_up_whichever_answers(
    two_workers: tuple[subprocess.Popen[bytes], int, dict[str, str]], tmp_path: Path
) -> None:
    proc, port, keys = two_workers
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(CONNECTIONS)]
    status, body = _call(
        conns[0], "POST", "/api/v1/parcels", keys["station"], {"order": "MP-1", "packer": "P-001"}
    )
    assert status == 201, body
    parcel_id = json.loads(body)["id"]
    for i, conn in enumerate(conns):  # one scan and one /me per connection: both workers answer
        status, body = _call(
            conn,
            "POST",
            f"/api/v1/parcels/{parcel_id}/scans",
            keys["station"],
            {"code": MUG, "event_id": f"mp-{i}"},
        )
        assert status == 200 and json.loads(body)["result"] == "accepted", body
        assert _call(conn, "GET", "/api/v1/me", keys["station"])[0] == 200
    status, body = _call(
        conns[0], "POST", f"/api/v1/parcels/{parcel_id}/scans", keys["station"],
        {"code": MUG, "event_id": "mp-0"},
    )  # fmt: skip
    assert status == 200  # a replay: counts nothing

    folder = tmp_path / "metrics" / str(proc.pid)
    assert len(list(folder.glob("histogram_*.db"))) == 2, "both workers answered requests"
    readings = []
    for conn in conns:  # every worker's answer has every worker's counts
        status, text = _call(conn, "GET", "/metrics")
        assert status == 200
        samples = parse(text)
        readings.append(
            (
                value(samples, "qc_scans_total", result="accepted"),
                value(
                    samples,
                    "qc_http_request_duration_seconds_count",
                    method="GET",
                    route="/api/v1/me",
                    status="200",
                ),
            )
        )
    assert set(readings) == {(CONNECTIONS, CONNECTIONS)}

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    for conn in conns:
        conn.close()
    assert not folder.exists(), "the supervisor removes its metrics folder when it stops"
