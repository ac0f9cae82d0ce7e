def test_seaweedfs_roundtrip_and_conditional_put(s3_server):
    import botocore.exceptions
    import pytest

    client = s3_server.client()
    client.put_object(Bucket=s3_server.bucket, Key="smoke/a", Body=b"1")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        client.put_object(Bucket=s3_server.bucket, Key="smoke/a", Body=b"2", IfNoneMatch="*")
    assert err.value.response["Error"]["Code"] in ("PreconditionFailed", "412")
    assert client.get_object(Bucket=s3_server.bucket, Key="smoke/a")["Body"].read() == b"1"


def test_redis_answers(redis_url):
    import redis

    r = redis.Redis.from_url(redis_url)
    r.set("smoke", "1")
    assert r.get("smoke") == b"1"
