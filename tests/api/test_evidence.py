"""Evidence bundles: what the ZIP holds, share links (good, expired, tampered), roles, audit."""

import hashlib
import io
import json
import time
import zipfile
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from api.settings import get_settings
from api.signing import _evidence_signature, check_evidence_signed, signed_evidence_url
from qc.errors import Forbidden
from qc.models import AuditEvent, Complaint, Parcel, Photo, Product, User, utcnow
from qc.photo_store import PhotoStore
from tests import photo_stores
from tests.api.test_packing import close, open_parcel, scan
from tests.api.test_photos import GOOD, BrokenStore, upload
from tests.factories import MUG, TEA, World, make_world
from tests.photo_images import jpeg, parcel_scene

# The bundle reads its images from the store: those tests run on both photo stores, a folder
# and a real S3 server (SeaweedFS). Tests that never reach the store run on the folder alone.
photo_store = photo_stores.photo_store
seaweed = photo_stores.seaweed
fs_only = pytest.mark.parametrize("photo_store", ["fs"], indirect=True)

KEEPERS = ["support", "manager"]
OTHERS = ["station", "packer", "supervisor", "admin"]
TRACKING = "1Z999AA10123456784"


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def evidence_actions(session: Session) -> list[tuple[str, str, str]]:
    rows = session.exec(
        select(AuditEvent)
        .where(col(AuditEvent.action).startswith("evidence."))
        .order_by(col(AuditEvent.id))
    ).all()
    return [(e.action, e.actor, e.object_id) for e in rows]


def photographed(client: TestClient, world: World, order: str = "1001") -> tuple[int, int]:
    """A parcel with one photo, still packing: (parcel id, photo id)."""
    parcel = open_parcel(client, world, order=order)
    answer = upload(client, world, parcel["id"], GOOD)
    assert answer.status_code == 201, answer.text
    return parcel["id"], answer.json()["id"]


def full_story(client: TestClient, world: World, session: Session) -> tuple[int, int]:
    """Order 1001 packed with a wrong item refused, a photo, a weight, held for a missing
    cable, released by a supervisor, shipped, and complained about: (parcel id, photo id)."""
    parcel_id, photo_id = photographed(client, world)
    assert scan(client, world, parcel_id, TEA)["result"] == "wrong_item"
    assert scan(client, world, parcel_id, MUG)["result"] == "accepted"
    assert scan(client, world, parcel_id, MUG)["result"] == "accepted"
    weighed = client.post(
        f"/parcels/{parcel_id}/weight", json={"grams": 850}, headers=world.auth("station")
    )
    assert weighed.status_code == 200, weighed.text
    assert close(client, world, parcel_id)["status"] == "held"
    released = client.post(
        f"/parcels/{parcel_id}/override",
        json={"reason": "customer agreed to a partial"},
        headers=world.auth("supervisor"),
    )
    assert released.status_code == 200, released.text
    shipped = client.post(
        f"/parcels/{parcel_id}/ship", json={"tracking_number": TRACKING},
        headers=world.auth("station"),
    )  # fmt: skip
    assert shipped.status_code == 200, shipped.text
    cable = session.exec(select(Product).where(Product.sku == "CABLE")).one()
    support = session.exec(select(User).where(User.name == "support-user")).one()
    session.add(
        Complaint(parcel_id=parcel_id, customer_ref="CUST-7", kind="missing", product_id=cable.id,
                  qty=1, note="no cable in the box", created_by=support.id or 0)
    )  # fmt: skip
    session.flush()
    return parcel_id, photo_id


def unzip(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def download(client: TestClient, world: World, parcel_id: int, who: str = "support"):
    return client.get(f"/parcels/{parcel_id}/evidence", headers=world.auth(who))


def share(client: TestClient, world: World, parcel_id: int, who: str = "support", **body):
    return client.post(
        f"/parcels/{parcel_id}/evidence/share", json=body or None, headers=world.auth(who)
    )


def link_query(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path.removeprefix("/api/v1"), {k: v[0] for k, v in parse_qs(parts.query).items()}


# --- the bundle --------------------------------------------------------------------------------


def test_the_bundle_holds_the_photo_the_record_and_a_manifest_of_hashes(
    client: TestClient, world: World, session: Session, photo_store: PhotoStore
) -> None:
    parcel_id, photo_id = full_story(client, world, session)
    answer = download(client, world, parcel_id)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="parcel-{parcel_id}-evidence.zip"'
    )
    assert answer.headers["cache-control"] == "no-store"
    files = unzip(answer.content)
    image = f"photos/photo-{photo_id}.jpg"
    assert list(files) == [image, "parcel.json", "manifest.json"]

    row = session.get_one(Photo, photo_id)
    assert files[image] == photo_store.get(row.sha256)  # the stored full-size image, as is

    manifest = json.loads(files["manifest.json"])
    assert manifest["parcel_id"] == parcel_id
    assert manifest["generated_by"] == "user:support-user"
    assert abs(datetime.fromisoformat(manifest["generated_at"]) - utcnow()) < timedelta(minutes=1)
    assert [f["path"] for f in manifest["files"]] == [image, "parcel.json"]
    for entry in manifest["files"]:
        data = files[entry["path"]]
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)

    record = json.loads(files["parcel.json"])
    parcel = session.get_one(Parcel, parcel_id)
    assert (record["parcel_id"], record["order"], record["customer_ref"]) == (
        parcel_id, "1001", "CUST-7",
    )  # fmt: skip
    assert (record["station"], record["packer"]) == ("BENCH-1", "packer-user")
    assert (record["status"], record["verdict"]) == ("shipped", "released_by_override")
    assert (record["weight_g"], record["expected_weight_g"]) == (850, parcel.expected_weight_g)
    assert record["expected_weight_g"] is not None
    assert record["tracking_number"] == TRACKING
    for name in ("opened_at", "closed_at", "shipped_at"):
        assert datetime.fromisoformat(record[name]) == getattr(parcel, name)
    assert [(ln["sku"], ln["expected"], ln["scanned"]) for ln in record["lines"]] == [
        ("MUG", 2, 2),
        ("CABLE", 1, 0),
    ]
    scans = record["scans"]
    assert [(s["sku"], s["result"]) for s in scans] == [
        ("TEA", "wrong_item"), ("MUG", "accepted"), ("MUG", "accepted"),
    ]  # fmt: skip
    for entry in scans:
        assert entry["answer"]["result"] == entry["result"] and entry["answer"]["message"]
        assert datetime.fromisoformat(entry["recorded_at"]) <= utcnow()
        assert datetime.fromisoformat(entry["received_at"]) <= utcnow()
    kinds = {(d["kind"], d["sku"], d["stage"]) for d in record["defects"]}
    assert {("wrong_item", "TEA", "caught"), ("missing_item", "CABLE", "caught")} <= kinds
    [override] = record["overrides"]
    assert (override["by"], override["reason"]) == (
        "supervisor-user",
        "customer agreed to a partial",
    )
    [complaint] = record["complaints"]
    assert (complaint["kind"], complaint["sku"], complaint["created_by"]) == (
        "missing", "CABLE", "support-user",
    )  # fmt: skip
    [photo] = record["photos"]
    assert (photo["id"], photo["file"], photo["purged"]) == (photo_id, image, False)
    assert photo["sha256"] == row.sha256 == manifest["files"][0]["sha256"]
    assert photo["bytes"] == len(files[image])
    assert [c["sku"] for c in photo["codes"]] == ["MUG"]
    assert photo["quality"]["sharpness"] == pytest.approx(row.sharpness)

    [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "evidence.download"))
    assert (event.actor, event.object_type, event.object_id) == (
        "user:support-user", "parcel", str(parcel_id),
    )  # fmt: skip
    assert event.ip == "testclient"
    assert event.detail["via"] == "key" and event.detail["images"] == 1
    assert event.detail["sha256"] == hashlib.sha256(answer.content).hexdigest()


@fs_only
def test_a_parcel_still_packing_without_photos_gives_a_record_and_manifest(
    client: TestClient, world: World
) -> None:
    parcel = open_parcel(client, world)
    files = unzip(download(client, world, parcel["id"], who="manager").content)
    assert list(files) == ["parcel.json", "manifest.json"]
    record = json.loads(files["parcel.json"])
    assert (record["status"], record["verdict"], record["closed_at"]) == ("packing", None, None)
    assert record["scans"] == record["photos"] == record["complaints"] == []


def test_a_purged_photo_is_listed_as_purged_and_left_out(
    client: TestClient, world: World, session: Session, photo_store: PhotoStore
) -> None:
    parcel_id, old = photographed(client, world)
    newer = upload(client, world, parcel_id, jpeg(parcel_scene(1600, 1200, codes=(MUG,), seed=7)))
    assert newer.status_code == 201, newer.text
    kept = newer.json()["id"]
    purged = session.get_one(Photo, old)
    purged.purged_at = utcnow()
    session.add(purged)
    session.flush()
    photo_store.delete(purged.sha256)
    photo_store.delete(purged.thumb_sha256)

    files = unzip(download(client, world, parcel_id).content)
    assert list(files) == [f"photos/photo-{kept}.jpg", "parcel.json", "manifest.json"]
    photos = json.loads(files["parcel.json"])["photos"]
    assert [(p["id"], p["purged"], p["file"]) for p in photos] == [
        (old, True, None), (kept, False, f"photos/photo-{kept}.jpg"),
    ]  # fmt: skip
    assert photos[0]["purged_at"] is not None and photos[0]["sha256"] == purged.sha256
    paths = [f["path"] for f in json.loads(files["manifest.json"])["files"]]
    assert paths == [f"photos/photo-{kept}.jpg", "parcel.json"]


def test_a_photo_gone_from_the_store_behind_the_records_back_is_marked_missing(
    client: TestClient, world: World, session: Session, photo_store: PhotoStore
) -> None:
    # Retention marks rows purged, commits, then deletes files: a download reading between
    # a row and its file must say the image is missing, not fail or invent one.
    parcel_id, photo_id = photographed(client, world)
    photo_store.delete(session.get_one(Photo, photo_id).sha256)
    files = unzip(download(client, world, parcel_id).content)
    assert list(files) == ["parcel.json", "manifest.json"]
    [photo] = json.loads(files["parcel.json"])["photos"]
    assert (photo["file"], photo["purged"], photo["missing"]) == (None, False, True)


def test_a_store_that_cannot_be_read_is_a_503_and_no_download_is_logged(
    client: TestClient, world: World, session: Session
) -> None:
    parcel_id, _ = photographed(client, world)
    client.app.state.photo_store = BrokenStore()  # type: ignore[attr-defined]
    answer = download(client, world, parcel_id)
    assert (answer.status_code, answer.json()["error"]) == (503, "photo_store_unavailable")
    assert answer.headers["retry-after"] == "5"
    assert evidence_actions(session) == []


@fs_only
def test_the_same_record_gives_the_same_archive(
    client: TestClient, world: World, session: Session, photo_store: PhotoStore
) -> None:
    from qc.evidence import build_bundle, parcel_record

    parcel_id, _ = photographed(client, world)
    moment = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    made = [
        build_bundle(record=parcel_record(session=session, parcel_id=parcel_id), store=photo_store,
                     generated_by="user:x", generated_at=moment)
        for _ in range(2)
    ]  # fmt: skip
    assert made[0].data == made[1].data and made[0].sha256 == made[1].sha256


# --- share links -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", KEEPERS)
def test_a_share_link_downloads_without_a_key_and_is_audited_in_its_makers_name(
    client: TestClient, world: World, session: Session, photo_store: PhotoStore, who: str
) -> None:
    parcel_id, photo_id = photographed(client, world)
    made = share(client, world, parcel_id, who=who, hours=24)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["url"].startswith("http://testserver/api/v1/evidence/shared?")
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert abs(expires_at - (utcnow() + timedelta(hours=24))) < timedelta(minutes=1)

    got = client.get(body["url"])  # no Authorization header
    assert got.status_code == 200, got.text
    files = unzip(got.content)
    row = session.get_one(Photo, photo_id)
    assert files[f"photos/photo-{photo_id}.jpg"] == photo_store.get(row.sha256)
    assert json.loads(files["manifest.json"])["generated_by"] == f"link:user:{who}-user"

    assert evidence_actions(session) == [
        ("evidence.share", f"user:{who}-user", str(parcel_id)),
        ("evidence.download", f"link:user:{who}-user", str(parcel_id)),
    ]
    shared, downloaded = session.exec(
        select(AuditEvent)
        .where(col(AuditEvent.action).startswith("evidence."))
        .order_by(col(AuditEvent.id))
    ).all()
    assert shared.ip == downloaded.ip == "testclient"
    assert datetime.fromisoformat(shared.detail["expires_at"]) == expires_at
    assert downloaded.detail["via"] == "link"


@fs_only
def test_a_share_link_lasts_72_hours_by_default(client: TestClient, world: World) -> None:
    parcel_id, _ = photographed(client, world)
    for made in (share(client, world, parcel_id), share(client, world, parcel_id, hours=72)):
        assert made.status_code == 201, made.text
        expires_at = datetime.fromisoformat(made.json()["expires_at"])
        assert abs(expires_at - (utcnow() + timedelta(hours=72))) < timedelta(minutes=1)


@fs_only
def test_an_expired_link_is_refused(client: TestClient, world: World, session: Session) -> None:
    parcel_id, _ = photographed(client, world)
    path, query = link_query(share(client, world, parcel_id).json()["url"])
    past = int(time.time()) - 60
    query["expires"] = str(past)
    query["sig"] = _evidence_signature(get_settings().secret_key, parcel_id, past, query["by"])
    answer = client.get(path, params=query)
    assert (answer.status_code, answer.json()["error"]) == (403, "link_expired")
    assert [a for a, *_ in evidence_actions(session)] == ["evidence.share"]


@fs_only
@pytest.mark.parametrize("tamper", ["parcel", "expires", "by", "sig", "missing", "photo-sig"])
def test_a_tampered_link_is_refused(
    client: TestClient, world: World, session: Session, tamper: str
) -> None:
    parcel_id, _ = photographed(client, world)
    other, _ = photographed(client, world, order="1002")
    path, query = link_query(share(client, world, parcel_id).json()["url"])
    if tamper == "parcel":
        query["parcel"] = str(other)
    elif tamper == "expires":
        query["expires"] = str(int(query["expires"]) + 3600)
    elif tamper == "by":
        query["by"] = "user:manager-user"
    elif tamper == "sig":
        query["sig"] = "0" * 32
    elif tamper == "missing":
        del query["sig"]
    else:  # a photo link's signature over the same numbers opens nothing else
        from api.signing import _signature

        query["sig"] = _signature(
            get_settings().secret_key, parcel_id, "full", int(query["expires"]), query["by"]
        )
    answer = client.get(path, params=query)
    assert (answer.status_code, answer.json()["error"]) == (403, "bad_signature")
    assert [a for a, *_ in evidence_actions(session)] == ["evidence.share"]


@fs_only
def test_a_key_does_not_stand_in_for_a_signature(client: TestClient, world: World) -> None:
    parcel_id, _ = photographed(client, world)
    answer = client.get(
        "/evidence/shared", params={"parcel": parcel_id}, headers=world.auth("support")
    )
    assert (answer.status_code, answer.json()["error"]) == (403, "bad_signature")


@fs_only
def test_a_good_link_to_a_parcel_that_does_not_exist_is_404(
    client: TestClient, world: World
) -> None:
    path, query = link_query(
        signed_evidence_url(prefix="/api/v1", secret=get_settings().secret_key,
                            parcel_id=999_999, by="user:support-user",
                            expires=int(time.time()) + 600)
    )  # fmt: skip
    answer = client.get(path, params=query)
    assert (answer.status_code, answer.json()["error"]) == (404, "parcel_not_found")


_label = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40)


@given(
    parcel_id=st.integers(1, 2**31 - 1),
    ttl=st.integers(1, 720 * 3600),
    by=_label,
    other_by=_label,
    other_id=st.integers(1, 2**31 - 1),
)
def test_a_signed_link_opens_only_what_it_was_made_for(
    parcel_id: int, ttl: int, by: str, other_by: str, other_id: int
) -> None:
    expires = int(time.time()) + ttl
    url = signed_evidence_url(prefix="", secret="s" * 32, parcel_id=parcel_id, by=by,
                              expires=expires)  # fmt: skip
    _, query = link_query(url)
    assert (int(query["parcel"]), int(query["expires"]), query["by"]) == (parcel_id, expires, by)
    check = {"secret": "s" * 32, "parcel_id": parcel_id, "expires": expires, "by": by,
             "sig": query["sig"]}  # fmt: skip
    check_evidence_signed(**check)  # type: ignore[arg-type]
    changes = [{"secret": "t" * 32}, {"expires": expires + 1}]
    changes += [{"parcel_id": other_id}] if other_id != parcel_id else []
    changes += [{"by": other_by}] if other_by != by else []
    for change in changes:
        with pytest.raises(Forbidden) as refused:
            check_evidence_signed(**{**check, **change})  # type: ignore[arg-type]
        assert refused.value.code == "bad_signature"


# --- roles and bad input -------------------------------------------------------------------------


@fs_only
@pytest.mark.parametrize("who", KEEPERS)
def test_support_and_managers_download_and_share(
    client: TestClient, world: World, session: Session, who: str
) -> None:
    parcel_id, _ = photographed(client, world)
    assert download(client, world, parcel_id, who=who).status_code == 200
    assert share(client, world, parcel_id, who=who).status_code == 201
    actor = f"user:{who}-user"
    assert evidence_actions(session) == [
        ("evidence.download", actor, str(parcel_id)),
        ("evidence.share", actor, str(parcel_id)),
    ]


@fs_only
@pytest.mark.parametrize("who", OTHERS)
def test_other_roles_may_not_download_or_share(
    client: TestClient, world: World, session: Session, who: str
) -> None:
    parcel_id, _ = photographed(client, world)
    for answer in (download(client, world, parcel_id, who=who),
                   share(client, world, parcel_id, who=who)):  # fmt: skip
        assert (answer.status_code, answer.json()["error"]) == (403, "role_required")
    assert evidence_actions(session) == []


@fs_only
def test_without_a_key_it_is_401(client: TestClient, world: World, session: Session) -> None:
    parcel_id, _ = photographed(client, world)
    assert client.get(f"/parcels/{parcel_id}/evidence").status_code == 401
    assert client.post(f"/parcels/{parcel_id}/evidence/share", json={}).status_code == 401
    assert evidence_actions(session) == []


@fs_only
@pytest.mark.parametrize(
    "body",
    [{"hours": 0}, {"hours": 10000}, {"hours": 721}, {"hours": -1}, {"hours": "soon"},
     {"hours": 24, "minutes": 5}, [24]],
    ids=["zero", "10000", "721", "negative", "text", "unknown-field", "not-an-object"],
)  # fmt: skip
def test_a_bad_share_request_is_refused_and_logs_nothing(
    client: TestClient, world: World, session: Session, body: object
) -> None:
    parcel_id, _ = photographed(client, world)
    answer = client.post(
        f"/parcels/{parcel_id}/evidence/share", json=body, headers=world.auth("support")
    )
    assert (answer.status_code, answer.json()["error"]) == (422, "invalid_request")
    assert evidence_actions(session) == []


@fs_only
@pytest.mark.parametrize("parcel", ["999999", "0", "abc", str(2**31)])
def test_an_unknown_or_malformed_parcel_is_refused(
    client: TestClient, world: World, session: Session, parcel: str
) -> None:
    status, code = (404, "parcel_not_found") if parcel == "999999" else (422, "invalid_request")
    for answer in (
        client.get(f"/parcels/{parcel}/evidence", headers=world.auth("support")),
        client.post(f"/parcels/{parcel}/evidence/share", json={}, headers=world.auth("support")),
    ):
        assert (answer.status_code, answer.json()["error"]) == (status, code)
    assert evidence_actions(session) == []
