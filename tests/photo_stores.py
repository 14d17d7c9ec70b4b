"""The app's photo store in API tests, on both backends: a folder ([fs]) and SeaweedFS ([s3]).

A test module opts in with `photo_store = photo_stores.photo_store` and
`seaweed = photo_stores.seaweed`. The QC_* settings are pointed at the same store, so the
`qc photos` commands a test runs see what the app under test wrote.
"""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.settings import get_settings
from qc.photo_store import FsPhotoStore, PhotoStore
from qc.photo_store_s3 import S3PhotoStore
from tests import seaweed as weed

seaweed = weed.seaweed


@pytest.fixture(params=["fs", "s3"])
def photo_store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PhotoStore]:
    if request.param == "fs":
        monkeypatch.setenv("QC_PHOTO_DIR", str(tmp_path / "photos"))
        get_settings.cache_clear()
        yield FsPhotoStore(tmp_path / "photos")
    else:
        server: weed.SeaweedS3 = request.getfixturevalue("seaweed")
        prefix = f"test-{uuid.uuid4().hex}/photos/"
        for name, value in {"PHOTO_STORE": "s3", "S3_ENDPOINT_URL": server.endpoint_url,
                            "S3_BUCKET": server.bucket, "S3_PREFIX": prefix,
                            "S3_ACCESS_KEY": server.access_key,
                            "S3_SECRET_KEY": server.secret_key}.items():  # fmt: skip
            monkeypatch.setenv(f"QC_{name}", value)
        get_settings.cache_clear()
        yield S3PhotoStore(server.client(), server.bucket, prefix=prefix)
    get_settings.cache_clear()
