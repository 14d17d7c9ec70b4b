"""The photo store's S3 backend: photos as objects in an S3-compatible bucket (AWS, SeaweedFS,
MinIO), with the same contract as FsPhotoStore (see qc.photo_store)."""

import base64
from collections.abc import Iterator
from contextlib import suppress
from datetime import datetime
from typing import TYPE_CHECKING, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from qc.photo_store import PhotoMissing, StoreUnavailable, check_key, cutoff, is_key, key_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType

# Not NoSuchBucket: a missing bucket is a misconfiguration to report, not a missing photo.
_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})


class S3PhotoStore:
    """Photos as objects <prefix>ab/<key> in an S3 (or S3-compatible) bucket."""

    def __init__(self, client: "S3Client", bucket: str, prefix: str = "photos/") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    @classmethod
    def connect(
        cls,
        *,
        endpoint_url: str | None,
        bucket: str,
        access_key: str | None,
        secret_key: str | None,
        region: str = "us-east-1",
        prefix: str = "photos/",
        create_bucket: bool = False,
    ) -> "S3PhotoStore":
        """Build a client for the bucket, creating the bucket first if asked and missing.

        Args:
            endpoint_url: the S3 server, such as http://127.0.0.1:8333; None for AWS.
            bucket: the bucket that holds the photos.
            access_key: with secret_key, the identity; None for boto3's usual sources.
            secret_key: the access key's secret.
            region: the region requests are signed for (and a new bucket is made in).
            prefix: where in the bucket the photos go.
            create_bucket: create the bucket if it does not exist.

        Raises:
            botocore.exceptions.ClientError: the server refused (credentials, permissions).
            botocore.exceptions.BotoCoreError: the server could not be reached.
        """
        config = Config(
            signature_version="s3v4",
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=15,
            # Path style works with any host name, where virtual hosts need bucket DNS names.
            s3={"addressing_style": "path"},
        )
        client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=config,
        )
        if create_bucket and not _bucket_exists(client, bucket):
            # S3-compatible servers name regions as they like; AWS's are a list of literals.
            where = cast("BucketLocationConstraintType", region)
            with suppress(client.exceptions.BucketAlreadyOwnedByYou):  # created meanwhile
                if region == "us-east-1":  # AWS refuses this one as a location constraint
                    client.create_bucket(Bucket=bucket)
                else:
                    client.create_bucket(
                        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": where}
                    )
        return cls(client, bucket, prefix)

    def _name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}{key[:2]}/{key}"

    def put(self, data: bytes, *, content_type: str = "image/jpeg") -> str:
        """Store data under its key and return the key; durable when this returns.

        The server checks the bytes against their SHA-256, so what is stored is what the key
        names. Bytes already stored are not uploaded again; the object is copied onto itself
        to refresh its LastModified, for the reason given in FsPhotoStore.put.
        """
        key = key_of(data)
        name = self._name(key)
        try:
            self._write(name, key, data, content_type)
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable(f"the photo bucket cannot be written: {exc}") from exc
        return key

    def _write(self, name: str, key: str, data: bytes, content_type: str) -> None:
        if self._exists(name):
            self.client.copy_object(
                Bucket=self.bucket,
                Key=name,
                CopySource={"Bucket": self.bucket, "Key": name},
                MetadataDirective="REPLACE",  # S3 refuses a copy onto itself that changes nothing
                ContentType=content_type,
            )
            return
        self.client.put_object(
            Bucket=self.bucket,
            Key=name,
            Body=data,
            ContentType=content_type,
            ChecksumSHA256=base64.b64encode(bytes.fromhex(key)).decode("ascii"),
        )

    def get(self, key: str) -> bytes:
        name = self._name(key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=name)
            with response["Body"] as body:
                return body.read()
        except ClientError as exc:
            if _error_code(exc) in _NOT_FOUND:
                raise PhotoMissing(key) from None
            raise StoreUnavailable(f"the photo bucket cannot be read: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(f"the photo bucket cannot be read: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self._exists(self._name(key))

    def _exists(self, name: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:
            if _error_code(exc) in _NOT_FOUND:
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def list_keys(self, *, older_than: datetime | None = None) -> Iterator[str]:
        """Every stored key in order, one page (up to 1,000) in memory at a time."""
        before = cutoff(older_than)
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                folder, _, key = item["Key"].removeprefix(self.prefix).partition("/")
                if (
                    is_key(key)
                    and folder == key[:2]
                    and (before is None or item["LastModified"].timestamp() < before)
                ):
                    yield key


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _bucket_exists(client: "S3Client", bucket: str) -> bool:
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if _error_code(exc) in {*_NOT_FOUND, "NoSuchBucket"}:
            return False
        raise
    return True
