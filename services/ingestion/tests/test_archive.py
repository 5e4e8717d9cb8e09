"""Raw uploads are archived byte for byte: S3 (aioboto3 against moto's server) or a folder."""

from collections.abc import Iterator
from datetime import UTC, datetime

import aioboto3
import pytest
from moto.server import ThreadedMotoServer

from territory.ingestion.archive import LocalArchive, S3Archive, archive_from_settings
from territory.shared.settings import ArchiveSettings


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


async def test_s3_archive_stores_the_exact_bytes_under_a_partitioned_key(
    moto_endpoint, aws_env, tmp_path
):
    settings = ArchiveSettings(s3_bucket="raw-archive", s3_endpoint_url=moto_endpoint)
    session = aioboto3.Session()
    async with session.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1") as s3:
        await s3.create_bucket(Bucket="raw-archive")

    data = "source_id,name\n1,Zürich Versicherung AG\n".encode() + bytes(range(256))
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    archive = archive_from_settings(settings)
    assert isinstance(archive, S3Archive)
    uri = await archive.store(path, upload_id="abc123", filename="../../etc/export.csv")

    now = datetime.now(UTC)
    prefix = f"s3://raw-archive/institutional_clients_raw/uploads/year={now:%Y}/month={now:%m}/"
    assert uri.startswith(prefix)
    assert uri.endswith("-abc123-export.csv"), "path parts of the filename must not escape"
    key = uri.removeprefix("s3://raw-archive/")
    async with session.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1") as s3:
        obj = await s3.get_object(Bucket="raw-archive", Key=key)
        assert await obj["Body"].read() == data


async def test_s3_archive_failure_is_an_error_not_a_silent_skip(moto_endpoint, aws_env, tmp_path):
    settings = ArchiveSettings(s3_bucket="no-such-bucket", s3_endpoint_url=moto_endpoint)
    path = tmp_path / "x.csv"
    path.write_bytes(b"a\n")
    with pytest.raises(Exception, match=r"NoSuchBucket|does not exist"):
        await S3Archive(settings).store(path, upload_id="u", filename="x.csv")


async def test_local_archive_is_the_default(tmp_path):
    archive = archive_from_settings(ArchiveSettings(local_dir=tmp_path / "a"))
    assert isinstance(archive, LocalArchive)
    src = tmp_path / "in.csv"
    src.write_bytes(b"x,y\n")
    uri = await archive.store(src, upload_id="u1", filename="in.csv")
    stored = list((tmp_path / "a").rglob("*in.csv"))
    assert len(stored) == 1
    assert stored[0].read_bytes() == b"x,y\n"
    assert uri.startswith("file://")
