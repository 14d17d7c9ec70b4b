"""Browser tests: the real server on a loopback port, driven by Debian's headless Chromium.

Playwright never downloads a browser here: it drives /usr/bin/chromium (.ci/system-deps
installs it). Without it the browser tests skip locally and fail when QC_TEST_REQUIRE_BROWSER=1.
"""

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
from sqlalchemy import Engine

from api.db import session_for
from api.main import create_app
from qc.photo_store import FsPhotoStore
from tests.factories import World, make_world

CHROMIUM = Path("/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 800}
FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@dataclass
class LiveServer:
    url: str
    world: World


@pytest.fixture
def live_server(live_engine: Engine, tmp_path: Path) -> Iterator[LiveServer]:
    """The app served by uvicorn in a thread, on a committed demo world."""
    with session_for(live_engine, write=True) as session:
        world = make_world(session)
        session.commit()
    app = create_app(engine=live_engine, photo_store=FsPhotoStore(tmp_path / "photos"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", world=world)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test worker."""
    if not os.access(CHROMIUM, os.X_OK):
        reason = f"{CHROMIUM} is missing: run `bash .ci/system-deps` as root to install chromium"
        if os.environ.get("QC_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"QC_TEST_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            # A fake camera (a generated test pattern) for the getUserMedia path.
            args=["--no-sandbox", *FAKE_CAMERA],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab (no storage, no cookies) at 1280x800; any script error fails the test."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB")
    context.set_default_timeout(5000)
    page = context.new_page()
    # Intercept file choosers from the start: Playwright otherwise turns interception on when
    # expect_file_chooser() begins, without waiting, and a chooser opened right after can slip
    # past it (about one run in four with Chromium 156).
    page.on("filechooser", lambda _chooser: None)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(f"console: {message.text}")

    page.on("console", console)
    yield page
    context.close()
    assert not problems, problems
