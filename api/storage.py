"""The photo store the settings ask for: a folder, or an S3-compatible bucket."""

from api.settings import Settings
from qc.photo_store import FsPhotoStore, PhotoStore


def make_store(settings: Settings) -> PhotoStore:
    if settings.photo_store == "s3":
        from qc.photo_store_s3 import S3PhotoStore  # boto3 takes 0.3 s to import

        return S3PhotoStore.connect(
            endpoint_url=settings.s3_endpoint_url or None,
            bucket=settings.s3_bucket,
            access_key=settings.s3_access_key or None,
            secret_key=settings.s3_secret_key or None,
            region=settings.s3_region,
            prefix=settings.s3_prefix,
        )
    return FsPhotoStore(settings.photos_path)
