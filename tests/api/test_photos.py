"""Photos through the API: upload and its checks, what a photo shows, viewing, holds."""

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select
from starlette.requests import Request

from api.settings import get_settings
from api.uploads import read_file_part
from qc.errors import Forbidden, TooLarge, UnsupportedMedia
from qc.identity import Principal
from qc.models import AuditEvent, Defect, Photo, Station, utcnow
from qc.photo_ingest import PhotoPolicy, ingest
from qc.photo_store import PhotoStore, StoreUnavailable, sweep
from qc.photos import live_keys, record_photo
from tests import photo_stores
from tests.api.test_packing import close, open_parcel, scan
from tests.factories import CABLE, MUG, PHONE, World, make_world
from tests.photo_images import GPS_MARK, jpeg, jpeg_claiming, parcel_scene, png_bomb, with_exif

T = TypeVar("T")

# Every test here runs on both photo stores: a folder, and a real S3 server (SeaweedFS).
photo_store = photo_stores.photo_store
seaweed = photo_stores.seaweed


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch):
    """Set QC_* settings for one test: `settings_env(PHOTO_REQUIRED="1")`."""

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"QC_{name}", value)
        get_settings.cache_clear()

    yield set_env
    monkeypatch.undo()
    get_settings.cache_clear()


def upload(
    client: TestClient,
    world: World,
    parcel_id: int,
    data: bytes,
    *,
    who: str = "station",
    filename: str = "parcel.jpg",
    content_type: str = "image/jpeg",
):
    return client.post(
        f"/parcels/{parcel_id}/photos",
        files={"file": (filename, data, content_type)},
        headers=world.auth(who),
    )


GOOD = jpeg(parcel_scene(1600, 1200, codes=(MUG,)))


def test_a_photo_is_taken_measured_and_its_codes_matched(
    client: TestClient, world: World, session: Session
) -> None:
    parcel = open_parcel(client, world)
    answer = upload(client, world, parcel["id"], GOOD)
    assert answer.status_code == 201, answer.text
    photo = answer.json()
    assert photo["quality"]["ok"] and photo["quality"]["sharpness"] > 50
    assert [(c["sku"], c["expected"]) for c in photo["codes"]] == [("MUG", True)]
    assert photo["warnings"] == [] and photo["url"] is None  # stations get no image URL
    row = session.get(Photo, photo["id"])
    assert row is not None and row.width == 1600


def test_the_same_file_again_gives_the_same_photo(client: TestClient, world: World) -> None:
    parcel = open_parcel(client, world)
    first = upload(client, world, parcel["id"], GOOD)
    again = upload(client, world, parcel["id"], GOOD)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]


def test_the_kept_image_has_no_exif_or_gps(
    client: TestClient, world: World, session: Session, photo_store: PhotoStore
) -> None:
    parcel = open_parcel(client, world)
    answer = upload(client, world, parcel["id"], with_exif(GOOD, orientation=1))
    assert answer.status_code == 201, answer.text
    row = session.get_one(Photo, answer.json()["id"])
    kept = photo_store.get(row.sha256)
    assert GPS_MARK not in kept and b"Exif" not in kept
    assert GPS_MARK not in photo_store.get(row.thumb_sha256)


def test_a_blurred_photo_is_refused_with_reasons_and_nothing_kept(
    client: TestClient, world: World, session: Session, photo_store: PhotoStore
) -> None:
    parcel = open_parcel(client, world)
    blurred = jpeg(cv2.GaussianBlur(parcel_scene(1600, 1200), (0, 0), 5))
    answer = upload(client, world, parcel["id"], blurred)
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "photo_quality"
    assert body["quality"]["reasons"] == ["too blurred — hold the camera still and let it focus"]
    assert "too blurred" in body["detail"]
    assert session.exec(select(func.count()).select_from(Photo)).one() == 0
    assert list(photo_store.list_keys()) == []


def test_a_dark_photo_is_refused(client: TestClient, world: World) -> None:
    parcel = open_parcel(client, world)
    dark = jpeg((parcel_scene(1600, 1200).astype(np.float32) * 0.12).astype(np.uint8))
    answer = upload(client, world, parcel["id"], dark)
    assert answer.status_code == 422
    assert "too dark — turn on the bench light" in answer.json()["quality"]["reasons"]


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b"GIF89a" + b"\x00" * 100, "image/gif", 415, "unsupported_media_type"),
        (b"%PDF-1.7\n" * 20, "image/jpeg", 415, "unsupported_media_type"),
        (b"", "image/jpeg", 400, "empty_file"),
        (jpeg_claiming(20_000, 20_000), "image/jpeg", 413, "too_many_pixels"),
        (GOOD[:3000], "image/jpeg", 415, "unreadable_image"),
    ],
    ids=["gif", "pdf-named-jpeg", "empty", "bomb-header", "truncated"],
)
def test_bad_files_are_refused_and_change_nothing(
    client: TestClient,
    world: World,
    session: Session,
    photo_store: PhotoStore,
    data: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    parcel = open_parcel(client, world)
    answer = upload(client, world, parcel["id"], data, content_type=content_type)
    assert (answer.status_code, answer.json()["error"]) == (status, code), answer.text
    assert session.exec(select(func.count()).select_from(Photo)).one() == 0
    assert list(photo_store.list_keys()) == []


def test_a_png_decompression_bomb_is_refused(client: TestClient, world: World) -> None:
    parcel = open_parcel(client, world)
    answer = upload(client, world, parcel["id"], png_bomb(), content_type="image/png")
    assert (answer.status_code, answer.json()["error"]) == (413, "too_many_pixels")


def test_an_upload_over_the_size_limit_is_refused_before_it_is_read(
    client: TestClient, world: World, settings_env
) -> None:
    settings_env(PHOTO_MAX_BYTES="100000")
    parcel = open_parcel(client, world)
    big = GOOD + b"\x00" * 200_000
    answer = upload(client, world, parcel["id"], big)
    assert (answer.status_code, answer.json()["error"]) == (413, "photo_too_large")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a thread of its own: this one may already have a loop (Playwright's,
    when browser tests ran earlier in the same worker)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def multipart_scope(boundary: str) -> dict:
    content_type = f"multipart/form-data; boundary={boundary}".encode()
    return {"type": "http", "method": "POST", "path": "/", "query_string": b"",
            "headers": [(b"content-type", content_type)]}  # fmt: skip


def test_a_streamed_upload_without_a_length_is_cut_off_at_the_limit() -> None:
    # A body sent in chunks with no Content-Length: reading stops at the limit, not the end.
    boundary = "qcboundary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n").encode()  # fmt: skip
    pulled = []

    async def receive() -> dict:
        pulled.append(1)
        chunk = head if len(pulled) == 1 else GOOD[:3] + b"\x00" * 65_533
        return {"type": "http.request", "body": chunk, "more_body": len(pulled) < 1000}

    request = Request(multipart_scope(boundary), receive)
    with pytest.raises(TooLarge) as refused:
        run_async(read_file_part(request, field="file", limit=100_000))
    assert refused.value.code == "photo_too_large"
    assert len(pulled) <= 3  # 64 kB chunks: refused on the second of them


def test_a_file_that_starts_wrong_is_refused_at_its_first_bytes() -> None:
    boundary = "b"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"\r\n\r\n').encode()
    pulled = []

    async def receive() -> dict:
        pulled.append(1)
        chunk = head + b"MZ\x90\x00 not an image" if len(pulled) == 1 else b"\x00" * 65_536
        return {"type": "http.request", "body": chunk, "more_body": len(pulled) < 100}

    request = Request(multipart_scope(boundary), receive)
    with pytest.raises(UnsupportedMedia):
        run_async(read_file_part(request, field="file", limit=10_000_000))
    assert len(pulled) == 1


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"content": b"{}", "headers": {"Content-Type": "application/json"}}, 415, "not_multipart"),
        (
            {"files": {"photo": ("a.jpg", GOOD, "image/jpeg")}},
            400,
            "missing_file",
        ),
        (
            {
                "content": b"--x\r\nbroken",
                "headers": {"Content-Type": "multipart/form-data; boundary=x"},
            },
            400,
            "missing_file",
        ),
    ],
    ids=["json", "wrong-field", "broken-multipart"],
)
def test_malformed_uploads_are_refused(
    client: TestClient, world: World, kwargs: dict, status: int, code: str
) -> None:
    parcel = open_parcel(client, world)
    kwargs = dict(kwargs)  # the parameters are shared by the runs on both engines
    headers = {**world.auth("station"), **kwargs.pop("headers", {})}
    answer = client.post(f"/parcels/{parcel['id']}/photos", headers=headers, **kwargs)
    assert (answer.status_code, answer.json()["error"]) == (status, code), answer.text


@pytest.mark.parametrize(
    "name", ["../../etc/passwd.jpg", "..\\..\\boot.ini", "/etc/x.jpg", "a\x00b.jpg"]
)
def test_a_file_name_is_never_used_as_a_path(
    client: TestClient, world: World, photo_store: PhotoStore, tmp_path, name: str
) -> None:
    parcel = open_parcel(client, world)
    answer = upload(client, world, parcel["id"], GOOD, filename=name)
    assert answer.status_code == 201, answer.text
    written = {p.name for p in tmp_path.rglob("*") if p.is_file()}
    assert all(len(n) == 64 for n in written), written


@pytest.mark.parametrize("who", ["support", "manager", "supervisor", "admin", "packer"])
def test_only_stations_upload(client: TestClient, world: World, who: str) -> None:
    parcel = open_parcel(client, world)
    answer = upload(client, world, parcel["id"], GOOD, who=who)
    assert (answer.status_code, answer.json()["error"]) == (403, "station_only")


def test_another_stations_parcel_is_refused(client: TestClient, world: World) -> None:
    parcel = open_parcel(client, world)
    answer = upload(client, world, parcel["id"], GOOD, who="station2")
    assert (answer.status_code, answer.json()["error"]) == (403, "not_your_parcel")


def test_a_closed_parcel_takes_no_photo(client: TestClient, world: World) -> None:
    parcel = open_parcel(client, world)
    close(client, world, parcel["id"])
    answer = upload(client, world, parcel["id"], GOOD)
    assert (answer.status_code, answer.json()["error"]) == (409, "parcel_held")


def test_an_unknown_parcel_is_404(client: TestClient, world: World) -> None:
    answer = upload(client, world, 999_999, GOOD)
    assert (answer.status_code, answer.json()["error"]) == (404, "parcel_not_found")


def test_a_foreign_item_in_the_photo_warns_and_holds_the_parcel(
    client: TestClient, world: World, session: Session
) -> None:
    # Order 1001 is 2 MUG + 1 CABLE; a PHONE seen in the box is foreign to it.
    parcel = open_parcel(client, world)
    for code in (MUG, MUG, CABLE):
        assert scan(client, world, parcel["id"], code)["result"] == "accepted"
    photo = upload(client, world, parcel["id"], jpeg(parcel_scene(1600, 1200, codes=(PHONE,))))
    assert photo.status_code == 201, photo.text
    body = photo.json()
    assert body["codes"][0]["sku"] == "PHONE" and body["codes"][0]["expected"] is False
    assert body["warnings"] == ["photo_mismatch: the photo shows PHONE, which is not in this order"]
    verdict = close(client, world, parcel["id"])
    assert verdict["status"] == "held"
    assert verdict["defects"] == [{"kind": "photo_mismatch", "sku": "PHONE", "qty": 1}]
    kinds = session.exec(select(Defect.kind).where(Defect.parcel_id == parcel["id"])).all()
    assert kinds == ["photo_mismatch"]


def test_a_new_photo_without_the_foreign_item_clears_it(client: TestClient, world: World) -> None:
    parcel = open_parcel(client, world)
    for code in (MUG, MUG, CABLE):
        scan(client, world, parcel["id"], code)
    upload(client, world, parcel["id"], jpeg(parcel_scene(1600, 1200, codes=(PHONE,))))
    assert upload(client, world, parcel["id"], GOOD).status_code == 201
    assert close(client, world, parcel["id"])["status"] == "passed"


def test_closing_without_a_photo_is_refused_when_policy_requires_one(
    client: TestClient, world: World, settings_env
) -> None:
    settings_env(PHOTO_REQUIRED="true")
    parcel = open_parcel(client, world)
    for code in (MUG, MUG, CABLE):
        scan(client, world, parcel["id"], code)
    refused = client.post(f"/parcels/{parcel['id']}/close", headers=world.auth("station"))
    assert (refused.status_code, refused.json()["error"]) == (409, "photo_required")
    assert upload(client, world, parcel["id"], GOOD).status_code == 201
    assert close(client, world, parcel["id"])["status"] == "passed"


def _photo(client: TestClient, world: World) -> tuple[dict, dict]:
    parcel = open_parcel(client, world)
    photo = upload(client, world, parcel["id"], GOOD)
    assert photo.status_code == 201, photo.text
    return parcel, photo.json()


def _views(session: Session, photo_id: int) -> list[AuditEvent]:
    return list(session.exec(
        select(AuditEvent).where(AuditEvent.action == "photo.view",
                                 AuditEvent.object_id == str(photo_id))
        .order_by(col(AuditEvent.id))
    ))  # fmt: skip


@pytest.mark.parametrize("who", ["support", "manager", "supervisor"])
def test_people_who_judge_parcels_see_photos_and_each_view_is_audited(
    client: TestClient, world: World, session: Session, who: str
) -> None:
    _, photo = _photo(client, world)
    full = client.get(f"/photos/{photo['id']}", headers=world.auth(who))
    thumb = client.get(f"/photos/{photo['id']}?size=thumb", headers=world.auth(who))
    assert full.status_code == thumb.status_code == 200
    assert full.headers["content-type"] == "image/jpeg"
    assert full.headers["cache-control"] == "no-store"
    image = cv2.imdecode(np.frombuffer(full.content, np.uint8), cv2.IMREAD_COLOR)
    small = cv2.imdecode(np.frombuffer(thumb.content, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (1200, 1600) and 250 <= max(small.shape[:2]) <= 400
    views = _views(session, photo["id"])
    assert [(v.actor, v.detail["size"], v.detail["via"]) for v in views] == [
        (f"user:{who}-user", "full", "key"),
        (f"user:{who}-user", "thumb", "key"),
    ]


@pytest.mark.parametrize("who", ["station", "packer", "admin"])
def test_others_do_not_see_photos(
    client: TestClient, world: World, session: Session, who: str
) -> None:
    _, photo = _photo(client, world)
    answer = client.get(f"/photos/{photo['id']}", headers=world.auth(who))
    assert (answer.status_code, answer.json()["error"]) == (403, "role_required")
    assert _views(session, photo["id"]) == []


def test_a_photo_needs_a_key_or_a_signed_link(client: TestClient, world: World) -> None:
    _, photo = _photo(client, world)
    assert client.get(f"/photos/{photo['id']}").status_code == 401


def test_an_unknown_photo_is_404(client: TestClient, world: World) -> None:
    answer = client.get("/photos/424242", headers=world.auth("support"))
    assert (answer.status_code, answer.json()["error"]) == (404, "photo_not_found")


def test_the_parcel_shows_signed_photo_links_that_work_without_a_key(
    client: TestClient, world: World, session: Session
) -> None:
    parcel, photo = _photo(client, world)
    detail = client.get(f"/parcels/{parcel['id']}", headers=world.auth("support")).json()
    shown = detail["photos"][0]
    assert shown["id"] == photo["id"] and shown["url"] and shown["thumb_url"]
    assert any(t["event"] == "photo" for t in detail["timeline"])
    image = client.get(shown["url"].removeprefix("/api/v1"))
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    [view] = _views(session, photo["id"])
    assert (view.actor, view.detail["via"]) == ("user:support-user", "signed_url")
    station_view = client.get(f"/parcels/{parcel['id']}", headers=world.auth("station")).json()
    assert station_view["photos"][0]["url"] is None


@pytest.mark.parametrize("tamper", ["sig", "by", "photo", "size", "expires", "missing"])
def test_a_tampered_or_stretched_link_is_refused(
    client: TestClient, world: World, session: Session, tamper: str
) -> None:
    parcel, photo = _photo(client, world)
    detail = client.get(f"/parcels/{parcel['id']}", headers=world.auth("support")).json()
    url = urlsplit(detail["photos"][0]["url"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    path = url.path.removeprefix("/api/v1")
    if tamper == "sig":
        query["sig"] = "0" * 32
    elif tamper == "by":
        query["by"] = "user:manager-user"
    elif tamper == "photo":
        path = f"/photos/{photo['id'] + 1}"
    elif tamper == "size":
        query["size"] = "thumb"
    elif tamper == "expires":
        query["expires"] = str(int(query["expires"]) + 3600)
    else:
        del query["sig"]
    answer = client.get(path, params=query)
    assert answer.status_code == 403 and answer.json()["error"] == "bad_signature"
    assert _views(session, photo["id"]) == []


def test_an_expired_link_is_refused(
    client: TestClient, world: World, session: Session, settings_env
) -> None:
    settings_env(PHOTO_URL_SECONDS="10")
    parcel, photo = _photo(client, world)
    detail = client.get(f"/parcels/{parcel['id']}", headers=world.auth("manager")).json()
    url = urlsplit(detail["photos"][0]["url"])
    from api.signing import _signature

    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    query["expires"] = "1000"
    query["sig"] = _signature(get_settings().secret_key, photo["id"], "full", 1000, query["by"])
    answer = client.get(url.path.removeprefix("/api/v1"), params=query)
    assert (answer.status_code, answer.json()["error"]) == (403, "link_expired")


@pytest.mark.parametrize("who", ["support", "manager"])
def test_evidence_can_be_held_by_support_and_managers(
    client: TestClient, world: World, session: Session, who: str
) -> None:
    parcel, _ = _photo(client, world)
    body = {"reason": "chargeback 4471"}
    first = client.post(
        f"/parcels/{parcel['id']}/hold-evidence", json=body, headers=world.auth(who)
    )
    again = client.post(
        f"/parcels/{parcel['id']}/hold-evidence", json=body, headers=world.auth(who)
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["held"] and first.json()["reason"] == "chargeback 4471"
    detail = client.get(f"/parcels/{parcel['id']}", headers=world.auth("support")).json()
    assert detail["evidence_hold"]["held"] is True
    actions = session.exec(
        select(AuditEvent.action).where(AuditEvent.action == "evidence.hold")
    ).all()
    assert actions == ["evidence.hold"]


@pytest.mark.parametrize("who", ["station", "packer", "supervisor", "admin"])
def test_others_cannot_hold_evidence(client: TestClient, world: World, who: str) -> None:
    parcel, _ = _photo(client, world)
    answer = client.post(
        f"/parcels/{parcel['id']}/hold-evidence", json={"reason": "x"}, headers=world.auth(who)
    )
    assert answer.status_code == 403


@pytest.mark.parametrize(
    ("body", "status"), [({}, 422), ({"reason": ""}, 422), ({"reason": "x" * 501}, 422)]
)
def test_a_hold_needs_a_reason(client: TestClient, world: World, body: dict, status: int) -> None:
    parcel, _ = _photo(client, world)
    answer = client.post(
        f"/parcels/{parcel['id']}/hold-evidence", json=body, headers=world.auth("support")
    )
    assert answer.status_code == status


def test_a_hold_on_an_unknown_parcel_is_404(client: TestClient, world: World) -> None:
    answer = client.post(
        "/parcels/999999/hold-evidence", json={"reason": "x"}, headers=world.auth("support")
    )
    assert (answer.status_code, answer.json()["error"]) == (404, "parcel_not_found")


def test_a_manager_releases_a_hold(client: TestClient, world: World) -> None:
    parcel, _ = _photo(client, world)
    url = f"/parcels/{parcel['id']}/hold-evidence"
    client.post(url, json={"reason": "dispute"}, headers=world.auth("support"))
    assert client.delete(url, headers=world.auth("support")).status_code == 403
    released = client.delete(url, headers=world.auth("manager"))
    assert released.status_code == 200 and released.json()["held"] is False
    again = client.delete(url, headers=world.auth("manager"))
    assert (again.status_code, again.json()["error"]) == (409, "no_evidence_hold")


class BrokenStore:
    """A store whose disk is full, or whose server is down."""

    def put(self, data: bytes, *, content_type: str = "image/jpeg") -> str:
        raise StoreUnavailable("no space left on device")

    def get(self, key: str) -> bytes:
        raise StoreUnavailable("connection refused")


def test_a_store_that_cannot_write_is_a_503_and_records_nothing(
    client: TestClient, world: World, session: Session
) -> None:
    parcel = open_parcel(client, world)
    client.app.state.photo_store = BrokenStore()  # type: ignore[attr-defined]
    answer = upload(client, world, parcel["id"], GOOD)
    assert (answer.status_code, answer.json()["error"]) == (503, "photo_store_unavailable")
    assert answer.headers["retry-after"] == "5"
    assert session.exec(select(func.count()).select_from(Photo)).one() == 0


def test_a_store_that_cannot_read_is_a_503(client: TestClient, world: World) -> None:
    _, photo = _photo(client, world)
    client.app.state.photo_store = BrokenStore()  # type: ignore[attr-defined]
    answer = client.get(f"/photos/{photo['id']}", headers=world.auth("support"))
    assert (answer.status_code, answer.json()["error"]) == (503, "photo_store_unavailable")


def test_an_upload_that_never_commits_leaves_files_the_sweeper_removes(
    client: TestClient, world: World, session: Session, photo_store: PhotoStore
) -> None:
    # Files are written before the row; when the row's transaction fails (here the parcel is
    # not the station's), they are orphans: swept, while a committed photo keeps its files.
    parcel, committed = _photo(client, world)
    stored = ingest(jpeg(parcel_scene(800, 600, seed=5)), store=photo_store, policy=PhotoPolicy())
    assert photo_store.exists(stored.sha256) and photo_store.exists(stored.thumb_sha256)
    other = session.exec(select(Station).where(Station.code == "BENCH-2")).one()
    intruder = Principal(kind="station", id=other.id or 0, name=other.code)
    with pytest.raises(Forbidden):
        record_photo(session=session, parcel_id=parcel["id"], station=intruder, stored=stored)

    deleted = sweep(
        photo_store,
        live=lambda keys: live_keys(session, keys),
        older_than=utcnow() + timedelta(seconds=5),  # every file is past its grace period
    )
    assert sorted(deleted) == sorted([stored.sha256, stored.thumb_sha256])
    row = session.get_one(Photo, committed["id"])
    assert photo_store.exists(row.sha256) and photo_store.exists(row.thumb_sha256)
