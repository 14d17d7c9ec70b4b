"""The bench agent against a real server: online, offline, back online, and killed mid-replay."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.main import create_app
from qc.models import Photo, Scan
from qc.photo_store import FsPhotoStore
from stations.camera import Camera, open_source
from stations.client import Client
from stations.config import StationSettings
from stations.events import Photographed, Scanned
from stations.outbox import Outbox
from stations.runner import Agent
from tests.factories import CABLE, MUG, PHONE, World, make_order, make_world
from tests.photo_images import jpeg, parcel_scene
from tests.stations.live_server import LiveServer

ROOT = Path(__file__).resolve().parents[2]


class Recording:
    """A screen that keeps what it was asked to show."""

    def __init__(self) -> None:
        self.answers: list[tuple[bool, str, str]] = []
        self.statuses: list[tuple[bool, int]] = []
        self.lines: list[dict[str, Any]] = []

    def show_parcel(self, order: str | None, lines: list[dict[str, Any]]) -> None:
        self.lines = lines

    def show_answer(self, ok: bool, title: str, message: str) -> None:
        self.answers.append((ok, title, message))

    def show_status(self, online: bool, waiting: int) -> None:
        self.statuses.append((online, waiting))

    def show_message(self, text: str) -> None:
        pass


class StillCamera:
    """A camera that always sees the same picture."""

    def __init__(self, image: bytes) -> None:
        self.image = image

    def photo(self) -> Photographed:
        return Photographed(self.image)


@pytest.fixture
def world(live_engine: Engine) -> World:
    with Session(live_engine) as session:
        made = make_world(session)
        make_order(session, number="BIG", lines=[("MUG", 100)])
        session.commit()
    return made


@pytest.fixture
def server(live_engine: Engine, tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(create_app(engine=live_engine, photo_store=FsPhotoStore(tmp_path / "ph")))
    live.start()
    yield live
    live.stop()


def agent_for(server: LiveServer, world: World, tmp_path: Path, **extra: Any) -> Agent:
    camera = extra.pop("camera", None)
    settings = StationSettings(
        server_url=server.url,
        key=world.keys["station"],
        packer="P-001",
        data_dir=tmp_path / "bench",
        retry_s=0.05,
        answer_wait_s=2,
        **extra,
    )
    outbox = Outbox(settings.data_dir / "outbox.db", station="BENCH-1")
    agent = Agent(
        settings=settings,
        client=Client(server.url, settings.key),
        outbox=outbox,
        screen=Recording(),
        camera=camera,
    )
    agent.start()
    return agent


def feed(agent: Agent, *codes: str, source: str = "scanner") -> None:
    for code in codes:
        agent.handle(Scanned(code, source))  # type: ignore[arg-type]


def drain(agent: Agent) -> None:
    """Handle what the sender reported, as the agent's loop would."""
    while not agent.events.empty():
        event = agent.events.get_nowait()
        if event is not None:
            agent.handle(event)


def wait_until(check: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def scans(engine: Engine) -> list[Scan]:
    with Session(engine) as session:
        return list(session.exec(select(Scan).order_by(col(Scan.id))))


def test_online_every_scan_shows_the_servers_answer(
    server: LiveServer, world: World, live_engine: Engine, tmp_path: Path
) -> None:
    agent = agent_for(server, world, tmp_path)
    screen: Recording = agent.screen  # type: ignore[assignment]
    feed(agent, "1001", MUG, PHONE, MUG, CABLE)
    assert [a[1] for a in screen.answers] == [
        "OPEN",
        "ACCEPTED",
        "WRONG ITEM",
        "ACCEPTED",
        "ACCEPTED",
    ]
    assert "offline" not in " ".join(a[2] for a in screen.answers)
    assert agent.outbox.waiting() == 0
    feed(agent, "QC:CLOSE")
    assert screen.answers[-1][:2] == (True, "PASSED")
    assert [(s.code, s.result) for s in scans(live_engine)] == [
        (MUG, "accepted"),
        (PHONE, "wrong_item"),
        (MUG, "accepted"),
        (CABLE, "accepted"),
    ]
    agent.stop()


def test_offline_the_bench_answers_itself_and_the_server_gets_everything_later(
    server: LiveServer, world: World, live_engine: Engine, tmp_path: Path
) -> None:
    agent = agent_for(server, world, tmp_path)
    screen: Recording = agent.screen  # type: ignore[assignment]
    feed(agent, "1001", MUG)
    server.stop()
    feed(agent, MUG, PHONE, CABLE)
    offline = screen.answers[-3:]
    assert [(ok, title) for ok, title, _ in offline] == [
        (True, "ACCEPTED"),
        (False, "UNKNOWN CODE"),
        (True, "ACCEPTED"),
    ]
    assert all("offline" in message for _, _, message in offline)
    assert agent.outbox.waiting() == 3 and screen.statuses[-1] == (False, 3)
    feed(agent, "QC:CLOSE")  # kept too, and sent in its turn
    server.start()
    wait_until(lambda: agent.outbox.waiting() == 0)
    drain(agent)
    # The server knows PHONE is a wrong item where the bench only knew it was not expected:
    # a different word for a refusal, shown as a conflict; the close comes back passed.
    assert (False, "CONFLICT") in [(ok, title) for ok, title, _ in screen.answers]
    assert screen.answers[-1][:2] == (True, "PASSED")
    assert [(s.code, s.result) for s in scans(live_engine)] == [
        (MUG, "accepted"),
        (MUG, "accepted"),
        (PHONE, "wrong_item"),
        (CABLE, "accepted"),
    ]
    agent.stop()


def test_a_restarted_bench_goes_on_with_its_parcel_and_outbox(
    server: LiveServer, world: World, live_engine: Engine, tmp_path: Path
) -> None:
    first = agent_for(server, world, tmp_path)
    feed(first, "1001", MUG)
    server.stop()
    feed(first, MUG)
    first.stop()
    first.outbox.close()

    second = agent_for(server, world, tmp_path)  # same data folder, server still away
    feed(second, CABLE)
    screen: Recording = second.screen  # type: ignore[assignment]
    assert screen.answers[-1][:2] == (True, "ACCEPTED")
    assert "all items scanned" in screen.answers[-1][2]  # it remembered the first two MUGs
    server.start()
    wait_until(lambda: second.outbox.waiting() == 0)
    assert [s.code for s in scans(live_engine)] == [MUG, MUG, CABLE]
    second.stop()


def test_the_last_item_takes_the_photo_and_it_reaches_the_server(
    server: LiveServer, world: World, live_engine: Engine, tmp_path: Path
) -> None:
    camera = StillCamera(jpeg(parcel_scene(1600, 1200, codes=(MUG,))))
    agent = agent_for(server, world, tmp_path, camera=camera)
    screen: Recording = agent.screen  # type: ignore[assignment]
    feed(agent, "1001", MUG, MUG, CABLE)
    assert screen.answers[-1][:2] == (True, "PHOTO")
    with Session(live_engine) as session:
        [photo] = session.exec(select(Photo)).all()
        assert photo.codes[0]["sku"] == "MUG"
    agent.stop()


def test_a_blurred_photo_is_refused_at_the_bench(
    server: LiveServer, world: World, tmp_path: Path
) -> None:
    agent = agent_for(server, world, tmp_path)
    screen: Recording = agent.screen  # type: ignore[assignment]
    feed(agent, "1001")
    agent.handle(Photographed(b"", reasons=("too blurred — hold the camera still",)))
    assert screen.answers[-1] == (False, "PHOTO", "too blurred — hold the camera still")
    assert agent.outbox.waiting() == 0
    agent.stop()


def test_no_parcel_opens_without_a_packer_or_the_server(
    server: LiveServer, world: World, tmp_path: Path
) -> None:
    agent = agent_for(server, world, tmp_path)
    agent.packer = ""
    screen: Recording = agent.screen  # type: ignore[assignment]
    feed(agent, "1001")
    assert screen.answers[-1][:2] == (False, "WHO IS PACKING?")
    feed(agent, "QC:PACKER=P-001")
    server.stop()
    feed(agent, "1001")
    assert screen.answers[-1][:2] == (False, "OFFLINE")
    server.start()
    feed(agent, "1001")
    assert screen.answers[-1][:2] == (True, "OPEN")
    agent.stop()


# -- a shift with the server gone, and the bench killed while it catches up --------------------


def _agent_process(
    server: LiveServer, world: World, data: Path, stdin: Any
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "QC_STATION_SERVER_URL": server.url,
        "QC_STATION_KEY": world.keys["station"],
        "QC_STATION_PACKER": "P-001",
        "QC_STATION_DATA_DIR": str(data),
        "QC_STATION_SCREEN": "plain",
        "QC_STATION_SCALE": "none",
        "QC_STATION_RETRY_S": "0.1",
        "QC_STATION_REPLAY_PAUSE_S": "0.02",
        "QC_STATION_ANSWER_WAIT_S": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "stations", "run"],
        cwd=ROOT,
        env=env,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )


class Lines:
    """The agent's output lines, read as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(
            target=lambda: self.seen.extend(iter(stream.readline, "")), daemon=True
        ).start()

    def count(self, text: str) -> int:
        return sum(text in line for line in self.seen)


@pytest.mark.slow
def test_100_offline_scans_survive_a_kill_during_the_replay(
    server: LiveServer, world: World, live_engine: Engine, tmp_path: Path
) -> None:
    data = tmp_path / "bench"
    bench = _agent_process(server, world, data, subprocess.PIPE)
    out = Lines(bench)
    assert bench.stdin is not None
    try:
        bench.stdin.write("BIG\n")
        wait_until(lambda: out.count("OPEN:") == 1)
        server.stop()
        for _ in range(100):
            bench.stdin.write(MUG + "\n")
        bench.stdin.flush()
        wait_until(lambda: out.count("ACCEPTED:") == 100, seconds=60)
        assert out.count("offline") >= 100
        server.start()
        wait_until(lambda: len(scans(live_engine)) >= 50, seconds=60)
        bench.send_signal(signal.SIGKILL)  # halfway through the replay
        bench.wait(timeout=10)
        assert len(scans(live_engine)) < 100, "the replay finished before the kill"
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()

    restarted = _agent_process(server, world, data, subprocess.DEVNULL)
    try:
        wait_until(
            lambda: len(scans(live_engine)) == 100 and Outbox(data / "outbox.db").waiting() == 0,
            seconds=60,
        )
    finally:
        restarted.terminate()
        restarted.wait(timeout=10)
    taken = scans(live_engine)
    outbox = Outbox(data / "outbox.db")
    sent = [
        row[0]
        for row in outbox._db.execute("SELECT event_id FROM entry WHERE kind = 'scan' ORDER BY seq")
    ]
    assert [s.event_id for s in taken] == sent  # exactly those 100, in the order taken
    assert len({s.event_id for s in taken}) == 100
    assert all(s.result == "accepted" for s in taken)


def test_after_close_nothing_more_goes_in_unless_the_close_is_refused(
    server: LiveServer, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.settings import get_settings

    monkeypatch.setenv("QC_PHOTO_REQUIRED", "1")
    get_settings.cache_clear()
    try:
        agent = agent_for(server, world, tmp_path)
        screen: Recording = agent.screen  # type: ignore[assignment]
        feed(agent, "1001", MUG, MUG, CABLE, "QC:CLOSE")
        assert screen.answers[-1][:2] == (False, "CLOSE")
        assert "photo" in screen.answers[-1][2]
        server.stop()
        feed(agent, "QC:CLOSE")  # offline: kept; the parcel takes nothing more meanwhile
        feed(agent, MUG)
        assert screen.answers[-1] == (
            False,
            "CLOSING",
            "Waiting for the server to confirm the close",
        )
        server.start()
        wait_until(lambda: agent.outbox.waiting() == 0)
        drain(agent)
        assert screen.answers[-1][:2] == (False, "CLOSE")  # refused again: still no photo
        assert agent.parcel is not None and not agent._closing
        agent.stop()
    finally:
        get_settings.cache_clear()


def test_codes_under_the_camera_become_scans_and_it_takes_the_photo(
    server: LiveServer, world: World, live_engine: Engine, tmp_path: Path
) -> None:
    # A recorded shift: a MUG held under the camera, taken away, held again; then a PHONE.
    video = tmp_path / "shift.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (1280, 720))
    for codes in [(MUG,)] * 8 + [()] * 10 + [(MUG,)] * 8 + [()] * 10 + [(PHONE,)] * 8:
        writer.write(parcel_scene(1280, 720, codes=codes, seed=3))
    writer.release()
    agent = agent_for(server, world, tmp_path)
    camera = Camera(open_source(str(video)), emit=agent.emit)
    agent.camera = camera
    screen: Recording = agent.screen  # type: ignore[assignment]
    feed(agent, "1001")
    camera.start()
    assert camera.join(timeout=60)
    drain(agent)
    assert [(s.code, s.source, s.result) for s in scans(live_engine)] == [
        (MUG, "camera", "accepted"),
        (MUG, "camera", "accepted"),
        (PHONE, "camera", "wrong_item"),
    ]
    feed(agent, "QC:PHOTO")  # the bench sheet's photo code: the camera's newest frame
    assert screen.answers[-1][:2] == (False, "PHOTO")  # it shows the PHONE: a mismatch
    assert "PHONE" in screen.answers[-1][2]
    with Session(live_engine) as session:
        [photo] = session.exec(select(Photo)).all()
        assert photo.foreign_skus == ["PHONE"]
    agent.stop()


def test_keys_for_the_photo_and_a_typed_weight(
    server: LiveServer, world: World, live_engine: Engine, tmp_path: Path
) -> None:
    camera = StillCamera(jpeg(parcel_scene(1600, 1200, codes=(MUG,))))
    agent = agent_for(server, world, tmp_path, camera=camera, auto_photo=False)
    screen: Recording = agent.screen  # type: ignore[assignment]
    feed(agent, "1001", MUG, MUG, CABLE, "p", "w 0.9 kg", "close")
    titles = [title for _, title, _ in screen.answers]
    assert titles[-3:] == ["PHOTO", "WEIGHT", "PASSED"]
    assert screen.answers[-2][2] == "900 g (expected 890 g)"
    with Session(live_engine) as session:
        assert len(session.exec(select(Photo)).all()) == 1
    agent.stop()
