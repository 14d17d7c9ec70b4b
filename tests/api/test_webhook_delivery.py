"""Sending webhooks to a real receiver on 127.0.0.1: signed, retried with backoff until it
recovers, no event lost, none twice to a receiver that deduplicates, every try logged, dead
after ten, replayable; leases keep deliverers apart; the server's thread and `qc webhooks`.

Deliveries are committed rows seen by the deliverer's own connections: these tests use the
live database (`live_engine`, `live_client`) and empty it afterwards.
"""

import logging
import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from itertools import count, pairwise
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner

from api.cli import app as cli
from api.main import create_app
from api.webhook_deliverer import run_deliverer
from qc.models import (
    AuditEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    utcnow,
)
from qc.photo_store import FsPhotoStore
from qc.webhook_delivery import (
    MAX_ATTEMPTS,
    Claimed,
    Outcome,
    Sessions,
    claim,
    deliver_due,
    post,
    record,
)
from qc.webhooks import emit
from tests.api.test_packing import close, open_parcel, scan
from tests.factories import MUG, World, make_world
from tests.webhook_receiver import DROP, OK, Clock, deliver_until_done, receiving, sessions_of

SECRET = "receiver-secret-0123456789"


@pytest.fixture
def world(live_engine: Engine) -> World:
    with Session(live_engine) as session:
        world = make_world(session)
        session.commit()
    return world


@pytest.fixture
def http() -> httpx.Client:
    with httpx.Client(timeout=5) as client:
        yield client


def add_endpoint(client: TestClient, world: World, url: str, **body: object) -> int:
    response = client.post(
        "/webhooks", json={"url": url, "secret": SECRET, **body}, headers=world.auth("admin")
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def held_parcel(client: TestClient, world: World, order: str = "1002") -> int:
    parcel = open_parcel(client, world, order)
    assert close(client, world, parcel["id"])["status"] == "held"
    return parcel["id"]


def short_shipped_parcel(client: TestClient, world: World) -> int:
    parcel = open_parcel(client, world, "1001")
    scan(client, world, parcel["id"], MUG)
    scan(client, world, parcel["id"], MUG)
    short = {"sku": "CABLE", "qty": 1, "reason": "out of stock"}
    headers = world.auth("station")
    assert client.post(f"/parcels/{parcel['id']}/short", json=short, headers=headers).is_success
    assert close(client, world, parcel["id"])["status"] == "passed"
    tracking = {"tracking_number": "1Z999AA10123456784"}
    assert client.post(f"/parcels/{parcel['id']}/ship", json=tracking, headers=headers).is_success
    return parcel["id"]


def rows(engine: Engine, table: type) -> list:
    with Session(engine) as session:
        return list(session.exec(select(table).order_by(col(table.id))).all())


def emit_committed(engine: Engine, n: int, event_type: str = "parcel.held") -> list[str]:
    with Session(engine) as session:
        ids = [emit(session, event_type, {"parcel_id": i}).event_id for i in range(n)]
        session.commit()
    return ids


def test_a_receiver_that_fails_then_recovers_gets_every_event_once(
    live_client: TestClient, live_engine: Engine, world: World, http: httpx.Client
) -> None:
    script = ["500", DROP, "500", DROP, "503"]
    with receiving(SECRET, script=script) as receiver:
        add_endpoint(live_client, world, receiver.url)
        held_parcel(live_client, world)
        short_shipped_parcel(live_client, world)
        clock = Clock()
        made = deliver_until_done(live_engine, clock, http)

    events = {e.event_id: e for e in rows(live_engine, WebhookEvent)}
    assert {e.type for e in events.values()} == {
        "parcel.held",
        "parcel.shipped",
        "parcel.short_shipped",
    }
    deliveries = rows(live_engine, WebhookDelivery)
    assert [d.status for d in deliveries] == ["delivered"] * 3
    # None lost, none twice: the receiver kept each event exactly once...
    assert set(receiver.kept) == set(events)
    assert {i: e["type"] for i, e in receiver.kept.items()} == {
        i: e.type for i, e in events.items()
    }
    # ...although it saw some twice (an answer it dropped after keeping the event).
    assert receiver.duplicates == 2
    # Every POST was a logged attempt, correctly signed, and every attempt was a POST.
    attempts = rows(live_engine, WebhookAttempt)
    assert len(receiver.posts) == len(attempts) == made == len(script) + 3
    assert all(p.signature_ok for p in receiver.posts)
    assert sum(d.attempts for d in deliveries) == len(attempts)
    outcomes = sorted((a.status_code or 0, (a.error or "").split(":")[0]) for a in attempts)
    assert outcomes == [(0, "RemoteProtocolError")] * 2 + [(200, "")] * 3 + [
        (500, "HTTP 500"),
        (500, "HTTP 500"),
        (503, "HTTP 503"),
    ]
    short = next(e for e in receiver.kept.values() if e["type"] == "parcel.short_shipped")
    assert short["data"]["missing"] == [
        {"sku": "CABLE", "name": "Product CABLE", "qty": 1, "reason": "out of stock"}
    ]
    assert short["data"]["customer_ref"] == "CUST-7"

    log = live_client.get("/webhooks/deliveries?status=delivered", headers=world.auth("admin"))
    assert log.json()["total"] == 3
    first = deliveries[0]
    detail = live_client.get(f"/webhooks/deliveries/{first.id}", headers=world.auth("admin"))
    tries = detail.json()["attempt_log"]
    assert len(tries) == first.attempts and tries[-1]["status_code"] == 200
    assert all(t["duration_ms"] >= 0 for t in tries)


def test_retries_back_off_until_dead_and_a_replay_delivers(
    live_client: TestClient, live_engine: Engine, world: World, http: httpx.Client
) -> None:
    with receiving(SECRET, then="500") as receiver:
        add_endpoint(live_client, world, receiver.url)
        held_parcel(live_client, world)
        clock = Clock()
        start = clock.at
        deliver_until_done(live_engine, clock, http)
        (delivery,) = rows(live_engine, WebhookDelivery)
        assert (delivery.status, delivery.attempts, delivery.last_status) == ("dead", 10, 500)
        tried_at = [a.at for a in rows(live_engine, WebhookAttempt)]
        assert len(tried_at) == len(receiver.posts) == MAX_ATTEMPTS
        waits = [(b - a).total_seconds() for a, b in pairwise(tried_at)]
        assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
        assert tried_at[0] == start
        assert receiver.kept == {}

        support = live_client.post(
            f"/webhooks/deliveries/{delivery.id}/replay", headers=world.auth("support")
        )
        assert support.status_code == 403
        receiver.then = OK
        replayed = live_client.post(
            f"/webhooks/deliveries/{delivery.id}/replay", headers=world.auth("admin")
        )
        assert replayed.status_code == 200, replayed.text
        assert deliver_due(sessions=sessions_of(live_engine), client=http).delivered == 1

    (delivery,) = rows(live_engine, WebhookDelivery)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 1, None)
    assert len(receiver.kept) == 1 and len(receiver.posts) == MAX_ATTEMPTS + 1
    assert len(rows(live_engine, WebhookAttempt)) == MAX_ATTEMPTS + 1
    actions = [a.action for a in rows(live_engine, AuditEvent)]
    assert actions.count("webhook.replay") == 1


def test_a_deactivated_endpoint_gets_nothing_until_reactivated_and_replayed(
    live_client: TestClient, live_engine: Engine, world: World, http: httpx.Client
) -> None:
    admin = world.auth("admin")
    with receiving(SECRET) as receiver:
        endpoint = add_endpoint(live_client, world, receiver.url)
        held_parcel(live_client, world)
        assert live_client.delete(f"/webhooks/{endpoint}", headers=admin).status_code == 200
        assert deliver_due(sessions=sessions_of(live_engine), client=http).attempts == 0
        (delivery,) = rows(live_engine, WebhookDelivery)
        assert (delivery.status, delivery.last_error) == (
            "dead",
            f"endpoint {endpoint} is inactive",
        )
        url = f"/webhooks/deliveries/{delivery.id}/replay"
        refused = live_client.post(url, headers=admin)
        assert (refused.status_code, refused.json()["error"]) == (409, "endpoint_inactive")

        live_client.patch(f"/webhooks/{endpoint}", json={"active": True}, headers=admin)
        assert live_client.post(url, headers=admin).status_code == 200
        assert deliver_due(sessions=sessions_of(live_engine), client=http).delivered == 1
    assert len(receiver.posts) == 1 and len(receiver.kept) == 1


def test_a_lease_lets_one_deliverer_send_a_delivery(
    live_client: TestClient, live_engine: Engine, world: World
) -> None:
    add_endpoint(live_client, world, "http://127.0.0.1:9/never")
    emit_committed(live_engine, 1)
    sessions, clock = sessions_of(live_engine), Clock()
    (delivery,) = rows(live_engine, WebhookDelivery)
    assert delivery.id is not None
    with sessions(True) as first:
        mine = claim(first, delivery.id, clock())
        first.commit()
    with sessions(True) as second:
        assert claim(second, delivery.id, clock()) is None  # leased by the first
        clock.advance(59)
        assert claim(second, delivery.id, clock()) is None  # still leased
        clock.advance(2)
        theirs = claim(second, delivery.id, clock())  # the first took too long: taken over
        second.commit()
    assert mine is not None and theirs is not None
    with sessions(True) as session:  # the first's answer comes back: logged, changes nothing
        assert record(session, mine, Outcome(200, None, 5), clock()) == "lost_lease"
        session.commit()
    (delivery,) = rows(live_engine, WebhookDelivery)
    assert (delivery.status, delivery.attempts, delivery.lease_until) == (
        "pending",
        0,
        theirs.lease_until,
    )
    assert len(rows(live_engine, WebhookAttempt)) == 1


def test_two_deliverers_at_once_never_send_one_delivery_twice(
    live_client: TestClient, live_engine: Engine, world: World
) -> None:
    with receiving(SECRET, delay_s=0.02) as receiver:
        add_endpoint(live_client, world, receiver.url)
        sent = emit_committed(live_engine, 16)
        results: list[int] = []

        def deliverer() -> None:
            with httpx.Client(timeout=5) as client:
                run = deliver_due(sessions=sessions_of(live_engine), client=client, batch=4)
                results.append(run.delivered)

        threads = [threading.Thread(target=deliverer) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert sum(results) == 16
    assert len(receiver.posts) == 16 and receiver.duplicates == 0
    assert set(receiver.kept) == set(sent)
    assert len(rows(live_engine, WebhookAttempt)) == 16


def test_the_deliverer_logs_a_database_error_and_goes_on(
    live_client: TestClient, live_engine: Engine, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    calls, real = count(), sessions_of(live_engine)

    def flaky(write: bool) -> Session:
        if next(calls) < 2:
            raise OperationalError("SELECT", {}, Exception("the database went away"))
        return real(write)

    sessions: Sessions = flaky
    stop = threading.Event()
    with caplog.at_level(logging.ERROR, "qc.webhooks"), receiving(SECRET) as receiver:
        add_endpoint(live_client, world, receiver.url)
        sent = emit_committed(live_engine, 1)
        kwargs = {"sessions": sessions, "stop": stop, "interval_s": 0.02}
        thread = threading.Thread(target=run_deliverer, kwargs=kwargs)
        thread.start()
        try:
            receiver.wait_for(1)
        finally:
            stop.set()
            thread.join(10)
    assert not thread.is_alive()
    assert list(receiver.kept) == sent
    failures = [r for r in caplog.records if "webhook delivery failed" in r.getMessage()]
    assert len(failures) == 2 and "went away" in str(failures[0].exc_info[1])


def test_a_network_error_is_an_attempt_not_a_crash(http: httpx.Client) -> None:
    for url in ("http://127.0.0.1:9/refused", "http://[::1/broken"):
        claimed = Claimed(1, Clock()(), 0, url, SECRET, "e-1", "parcel.held", b"{}")
        outcome = post(http, claimed, 1700000000)
        assert (outcome.ok, outcome.status_code) == (False, None)
        assert outcome.error and len(outcome.error) <= 500


def test_the_server_delivers_from_a_thread_it_stops_at_shutdown(
    live_engine: Engine, world: World, tmp_path: Path
) -> None:
    app = create_app(
        engine=live_engine, photo_store=FsPhotoStore(tmp_path / "photos"), webhook_delivery=True
    )
    with receiving(SECRET) as receiver:
        with TestClient(app, base_url="http://testserver/api/v1") as client:
            add_endpoint(client, world, receiver.url)
            held_parcel(client, world)
            receiver.wait_for(1)
            assert any(t.name == "qc-webhooks" for t in threading.enumerate())
        assert not any(t.name == "qc-webhooks" for t in threading.enumerate())
    assert [e["type"] for e in receiver.kept.values()] == ["parcel.held"]
    assert all(p.signature_ok for p in receiver.posts)


def test_qc_webhooks_deliver_once(cli_env: Path, live_engine: Engine) -> None:
    with receiving(SECRET, script=["500"]) as receiver:
        with Session(live_engine) as session:
            session.add(WebhookEndpoint(url=receiver.url, secret=SECRET))
            session.commit()
        emit_committed(live_engine, 2)
        before = utcnow()
        ran = CliRunner().invoke(cli, ["webhooks", "deliver", "--once"])
        assert ran.exit_code == 0, ran.output
        assert ran.output.strip() == "2 attempt(s): 1 delivered, 1 to retry, 0 dead."
    assert len(receiver.kept) == 1 and len(receiver.posts) == 2
    with Session(live_engine) as session:
        retry = session.exec(
            select(WebhookDelivery).where(WebhookDelivery.status == "pending")
        ).one()
        tried = session.exec(select(func.count()).select_from(WebhookAttempt)).one()
    assert tried == 2
    assert timedelta(seconds=27) <= retry.next_attempt_at - before <= timedelta(seconds=40)


def test_qc_webhooks_deliver_runs_until_terminated(cli_env: Path, live_engine: Engine) -> None:
    with receiving(SECRET) as receiver:
        with Session(live_engine) as session:
            session.add(WebhookEndpoint(url=receiver.url, secret=SECRET))
            session.commit()
        sent = emit_committed(live_engine, 3, "complaint.created")
        qc = Path(sys.executable).with_name("qc")
        proc = subprocess.Popen(
            [str(qc), "webhooks", "deliver", "--interval", "0.2"],
            env=dict(os.environ),
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            receiver.wait_for(3, timeout_s=30)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Stopped." in err
    assert set(receiver.kept) == set(sent)
    assert all(d.status == "delivered" for d in rows(live_engine, WebhookDelivery))
