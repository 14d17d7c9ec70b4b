"""The photo store: one suite run on a folder ([fs]) and on a real S3 server, SeaweedFS ([s3])."""

import hashlib
import math
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qc.photo_store import (
    FsPhotoStore,
    PhotoMissing,
    PhotoStore,
    StoreUnavailable,
    check_key,
    key_of,
    sweep,
)
from qc.photo_store_s3 import S3PhotoStore
from tests import seaweed as weed

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# One SeaweedFS server per test worker; pytest finds fixtures by the test module's names.
seaweed = weed.seaweed

JPEG = b"\xff\xd8\xff\xe0" + b"parcel 42, front" * 64 + b"\xff\xd9"
KEY = hashlib.sha256(JPEG).hexdigest()
BAD_KEYS = [
    "../etc/passwd",
    KEY.upper(),
    KEY[:63],
    KEY + "0",
    f"{KEY[:2]}/{KEY[3:]}",
    f"../{KEY[3:]}",
    KEY[:63] + "g",
    KEY + "\n",
    "",
]


@pytest.fixture(scope="module")
def s3_client(seaweed: weed.SeaweedS3) -> "S3Client":
    return seaweed.client()


@pytest.fixture(params=["fs", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> PhotoStore:
    """An empty store; on S3 each test has a prefix of its own in the server's one bucket."""
    if request.param == "fs":
        return FsPhotoStore(tmp_path / "photos")
    # Looked up here, not asked for by name, so [fs] tests never start the server.
    server: weed.SeaweedS3 = request.getfixturevalue("seaweed")
    client: S3Client = request.getfixturevalue("s3_client")
    return S3PhotoStore(client, server.bucket, prefix=f"test-{uuid.uuid4().hex}/photos/")


def photo(n: int) -> bytes:
    return JPEG + n.to_bytes(4, "big")


def raw_names(store: PhotoStore) -> list[str]:
    """Every file or object the store's backend holds, whatever its name."""
    if isinstance(store, FsPhotoStore):
        files = store.root.rglob("*") if store.root.exists() else iter(())
        return sorted(str(path.relative_to(store.root)) for path in files if path.is_file())
    assert isinstance(store, S3PhotoStore)
    pages = store.client.get_paginator("list_objects_v2").paginate(
        Bucket=store.bucket, Prefix=store.prefix
    )
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def cutoff(store: PhotoStore) -> datetime:
    """A moment after every write so far and before every write to come (it waits for it).

    S3's LastModified counts whole seconds, so on S3 the moment is the next whole second.
    The server runs on this machine, so its clock is ours.
    """
    step = 1.0 if isinstance(store, S3PhotoStore) else 0.001
    now = time.time()
    moment = (math.floor(now / step) + 1) * step
    time.sleep(moment - now + 0.05)
    return datetime.fromtimestamp(moment, UTC)


def test_put_returns_the_sha256_and_get_gives_the_bytes_back(store: PhotoStore) -> None:
    key = store.put(JPEG)

    assert key == KEY == key_of(JPEG)
    assert store.get(key) == JPEG
    assert store.exists(key)


def test_putting_the_same_bytes_twice_stores_them_once(store: PhotoStore) -> None:
    first = store.put(JPEG)
    names = raw_names(store)

    assert store.put(JPEG) == first
    assert list(store.list_keys()) == [first]
    assert raw_names(store) == names


def test_putting_stored_bytes_again_makes_them_young_for_the_sweep(store: PhotoStore) -> None:
    """A re-upload of an orphan must not be swept while its new row is being committed."""
    key = store.put(JPEG)
    moment = cutoff(store)

    store.put(JPEG)

    assert list(store.list_keys(older_than=moment)) == []
    assert sweep(store, live=lambda keys: set(), older_than=moment) == []
    assert store.get(key) == JPEG


def test_exists_and_delete(store: PhotoStore) -> None:
    key = store.put(JPEG)
    other = store.put(photo(1))

    store.delete(key)
    store.delete(key)  # deleting what is gone is fine
    store.delete(key_of(b"never stored"))

    assert not store.exists(key)
    assert store.exists(other)
    assert list(store.list_keys()) == [other]


def test_get_of_a_missing_key_raises_photo_missing(store: PhotoStore) -> None:
    store.put(photo(1))

    with pytest.raises(PhotoMissing) as raised:
        store.get(KEY)

    assert isinstance(raised.value, LookupError)
    assert not store.exists(KEY)


def test_keys_that_are_not_lowercase_sha256_hex_are_refused_everywhere(
    store: PhotoStore,
) -> None:
    for bad in BAD_KEYS:
        for call in (store.get, store.exists, store.delete):
            with pytest.raises(ValueError, match="not a photo key"):
                call(bad)

    assert raw_names(store) == []


def test_check_key() -> None:
    assert check_key(KEY) == KEY
    for bad in [*BAD_KEYS, None, KEY.encode()]:
        with pytest.raises(ValueError, match="not a photo key"):
            check_key(bad)  # type: ignore[arg-type]


def test_list_keys_older_than(store: PhotoStore) -> None:
    old = store.put(photo(1))
    moment = cutoff(store)
    young = store.put(photo(2))

    assert list(store.list_keys(older_than=moment)) == [old]
    assert sorted(store.list_keys()) == sorted([old, young])
    with pytest.raises(ValueError, match="timezone-aware"):
        list(store.list_keys(older_than=moment.replace(tzinfo=None)))


def test_sweep_deletes_old_unreferenced_keys_in_batches(store: PhotoStore) -> None:
    old = [store.put(photo(n)) for n in range(5)]
    referenced = {old[1], old[3]}
    moment = cutoff(store)
    young = store.put(photo(99))  # no row yet: its request may still be committing
    asked: list[list[str]] = []

    def live(keys: list[str]) -> set[str]:
        asked.append(keys)
        return referenced & set(keys)

    deleted = sweep(store, live=live, older_than=moment, batch=2)

    assert sorted(deleted) == sorted(set(old) - referenced)
    assert sorted(store.list_keys()) == sorted([*referenced, young])
    assert [len(keys) for keys in asked] == [2, 2, 1]
    assert sorted(key for keys in asked for key in keys) == sorted(old)


def test_sweep_refuses_a_naive_time_or_an_empty_batch(store: PhotoStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sweep(store, live=lambda keys: set(), older_than=datetime.now())
    with pytest.raises(ValueError, match="batch"):
        sweep(store, live=lambda keys: set(), older_than=datetime.now(UTC), batch=0)


@settings(
    max_examples=25,
    deadline=None,
    # One store for all examples is right: keys are content addresses, examples cannot clash.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.binary(max_size=2048))
def test_any_bytes_come_back_unchanged(store: PhotoStore, data: bytes) -> None:
    key = store.put(data, content_type="application/octet-stream")

    assert key == hashlib.sha256(data).hexdigest()
    assert store.get(key) == data


def test_a_large_photo_comes_back_unchanged(store: PhotoStore) -> None:
    data = os.urandom(6 * 1024 * 1024)  # more than SeaweedFS's 4 MB chunks

    assert store.get(store.put(data)) == data


# The folder backend: layout and crash consistency.


def test_fs_layout(tmp_path: Path) -> None:
    store = FsPhotoStore(tmp_path)

    store.put(JPEG)

    assert (tmp_path / KEY[:2] / KEY[2:4] / KEY).read_bytes() == JPEG
    assert os.listdir(tmp_path / ".tmp") == []


def test_fs_leftover_temp_files_are_never_keys(tmp_path: Path) -> None:
    """A crash between the write and the rename leaves a file in .tmp; nothing may see it."""
    store = FsPhotoStore(tmp_path)
    (tmp_path / ".tmp").mkdir()
    (tmp_path / ".tmp" / f"{KEY}.5f1d0c2e9a7b3d41").write_bytes(JPEG[:100])
    (tmp_path / ".tmp" / KEY).write_bytes(JPEG[:100])

    assert list(store.list_keys()) == []
    assert not store.exists(KEY)
    with pytest.raises(PhotoMissing):
        store.get(KEY)

    assert store.put(JPEG) == KEY
    assert store.get(KEY) == JPEG
    assert list(store.list_keys()) == [KEY]


def test_fs_list_keys_ignores_names_that_are_not_keys(tmp_path: Path) -> None:
    store = FsPhotoStore(tmp_path)
    store.put(JPEG)
    other = key_of(b"other")
    for name in [
        f"{KEY[:2]}/{KEY[2:4]}/{KEY}.jpg",
        f"{KEY[:2]}/{KEY[2:4]}/{KEY.upper()}",
        f"{KEY[:2]}/{KEY[2:4]}/notes.txt",
        f"{KEY[:2]}/{KEY[2:4]}/{other}",  # a key in another key's folder
        f"{other[:2]}/{other}",
        f"xx/yy/{other}",
        other,
    ]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"junk")

    assert list(store.list_keys()) == [KEY]


def test_fs_a_file_whose_row_never_committed_is_swept_after_the_grace_period(
    tmp_path: Path,
) -> None:
    store = FsPhotoStore(tmp_path)
    committed = store.put(photo(1))
    orphan = store.put(photo(2))  # the request failed before its row committed
    fresh = store.put(photo(3))  # a request still in flight
    two_days_ago = time.time() - 2 * 86400
    for key in (committed, orphan):
        os.utime(tmp_path / key[:2] / key[2:4] / key, (two_days_ago, two_days_ago))
    rows = {committed, fresh}

    deleted = sweep(
        store,
        live=lambda keys: rows & set(keys),
        older_than=datetime.now(UTC) - timedelta(hours=24),
    )

    assert deleted == [orphan]
    assert sorted(store.list_keys()) == sorted([committed, fresh])
    with pytest.raises(PhotoMissing):
        store.get(orphan)


# The S3 backend: object names, content types, pages, errors and the client it builds.


@pytest.mark.parametrize("store", ["s3"], indirect=True)
def test_s3_object_names_and_content_types(store: S3PhotoStore) -> None:
    other = store.put(photo(1), content_type="image/png")
    store.put(JPEG)

    head = store.client.head_object(Bucket=store.bucket, Key=f"{store.prefix}{KEY[:2]}/{KEY}")
    assert (head["ContentType"], head["ContentLength"]) == ("image/jpeg", len(JPEG))
    name = f"{store.prefix}{other[:2]}/{other}"
    assert store.client.head_object(Bucket=store.bucket, Key=name)["ContentType"] == "image/png"


@pytest.mark.parametrize("store", ["s3"], indirect=True)
def test_s3_list_keys_ignores_names_that_are_not_keys(store: S3PhotoStore) -> None:
    store.put(JPEG)
    other = key_of(b"other")
    for name in [
        f"{KEY[:2]}/{KEY}.jpg",
        f"{KEY[:2]}/{KEY.upper()}",
        f"{KEY[:2]}/{KEY[2:4]}/{KEY}",
        f"{KEY[:2]}/{other}",  # a key in another key's folder
        other,
        "notes.txt",
    ]:
        store.client.put_object(Bucket=store.bucket, Key=store.prefix + name, Body=b"x")
    beside = store.prefix.removesuffix("photos/") + f"photos-old/{other[:2]}/{other}"
    store.client.put_object(Bucket=store.bucket, Key=beside, Body=b"x")

    assert list(store.list_keys()) == [KEY]


def test_s3_list_keys_reads_every_page(seaweed: weed.SeaweedS3) -> None:
    store = S3PhotoStore(seaweed.client(), seaweed.bucket, prefix=f"test-{uuid.uuid4().hex}/")
    keys = sorted(store.put(photo(n)) for n in range(7))
    requests: list[dict[str, object]] = []

    def three_a_page(params: dict[str, object], **_: object) -> None:
        params["MaxKeys"] = 3
        requests.append(params)

    store.client.meta.events.register("before-parameter-build.s3.ListObjectsV2", three_a_page)

    assert list(store.list_keys()) == keys
    assert len(requests) == 3


def test_s3_errors_other_than_not_found_are_not_photo_missing(seaweed: weed.SeaweedS3) -> None:
    # A missing bucket or a refused signature is the store failing, not a photo missing.
    with pytest.raises(StoreUnavailable, match="NoSuchBucket"):
        S3PhotoStore(seaweed.client(), "qc-no-such-bucket").get(KEY)

    stranger = S3PhotoStore.connect(
        endpoint_url=seaweed.endpoint_url,
        bucket=seaweed.bucket,
        access_key=seaweed.access_key,
        secret_key="not-the-secret",
    )
    refused = r"403|SignatureDoesNotMatch"  # HEAD answers have no body to name the error
    with pytest.raises(StoreUnavailable, match=refused):
        stranger.put(JPEG)
    with pytest.raises(StoreUnavailable, match=refused):
        stranger.get(KEY)
    with pytest.raises(ClientError, match=refused):
        stranger.exists(KEY)


def test_an_s3_server_that_does_not_answer_is_store_unavailable() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = S3PhotoStore.connect(
        endpoint_url=f"http://127.0.0.1:{port}", bucket="b", access_key="k", secret_key="s"
    )
    store.client.meta.config.retries = {"max_attempts": 1}
    with pytest.raises(StoreUnavailable):
        store.put(JPEG)
    with pytest.raises(StoreUnavailable):
        store.get(KEY)


def test_a_folder_that_cannot_be_written_is_store_unavailable(tmp_path: Path) -> None:
    blocked = tmp_path / "photos"
    blocked.write_bytes(b"a file where the folder should be")
    with pytest.raises(StoreUnavailable):
        FsPhotoStore(blocked).put(JPEG)
    with pytest.raises(StoreUnavailable):
        FsPhotoStore(blocked).get(KEY)


def test_s3_connect_creates_the_bucket_when_asked(seaweed: weed.SeaweedS3) -> None:
    def connect() -> S3PhotoStore:
        return S3PhotoStore.connect(
            endpoint_url=seaweed.endpoint_url,
            bucket=bucket,
            access_key=seaweed.access_key,
            secret_key=seaweed.secret_key,
            prefix="p/",
            create_bucket=True,
        )

    bucket = f"qc-connect-{uuid.uuid4().hex[:12]}"
    store, again = connect(), connect()  # the second finds the bucket there
    sent: list[AWSPreparedRequest] = []
    store.client.meta.events.register("before-send.s3", lambda request, **_: sent.append(request))

    assert again.get(store.put(JPEG)) == JPEG
    assert sent
    for request in sent:  # path-style addresses, SigV4 signatures
        assert request.url.startswith(f"{seaweed.endpoint_url}/{bucket}/p/")
        assert "AWS4-HMAC-SHA256 Credential=" in str(request.headers["Authorization"])
