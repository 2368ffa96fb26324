"""A real S3 endpoint for the tests: moto's server mode on 127.0.0.1, a fresh bucket per test.

The storage code talks to it over HTTP with SigV4 exactly as it would to AWS, R2 or MinIO; boto3
(moto's own dependency) only creates the bucket and inspects what landed in it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from core.config import S3Settings

ACCESS_KEY = "testing-key"
SECRET_KEY = "testing-secret"


@dataclass
class S3Server:
    endpoint: str
    bucket: str
    client: Any

    def settings(self, **changes: Any) -> S3Settings:
        values: dict[str, Any] = {
            "bucket": self.bucket,
            "endpoint_url": self.endpoint,
            "access_key_id": ACCESS_KEY,
            "secret_access_key": SecretStr(SECRET_KEY),
            "prefix": "postbot",
        }
        values.update(changes)
        return S3Settings(**values)

    def keys(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.bucket)
        return sorted(o["Key"] for o in listed.get("Contents", []))

    def env(self) -> dict[str, str]:
        """The same settings for a postbot process, as environment variables."""
        return {
            "POSTBOT_MEDIA__BACKEND": "s3",
            "POSTBOT_MEDIA__S3__BUCKET": self.bucket,
            "POSTBOT_MEDIA__S3__ENDPOINT_URL": self.endpoint,
            "POSTBOT_MEDIA__S3__ACCESS_KEY_ID": ACCESS_KEY,
            "POSTBOT_MEDIA__S3__SECRET_ACCESS_KEY": SECRET_KEY,
        }


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(moto_endpoint: str) -> S3Server:
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )
    bucket = f"postbot-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return S3Server(moto_endpoint, bucket, client)
