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


def test_prefect_api_client_retries_a_503_answer():
    """The tests' Prefect API client sends a request again while the server answers 503 (a
    locked SQLite store), body included, and returns the first other answer."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from types import SimpleNamespace

    from tests.servers import prefect_api

    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PATCH(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            status = 503 if len(bodies) < 3 else 204
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = SimpleNamespace(api_url=f"http://127.0.0.1:{server.server_address[1]}/api")
        with prefect_api(api) as client:
            response = client.patch("/deployments/x", json={"paused": True})
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 204
    assert [json.loads(b) for b in bodies] == [{"paused": True}] * 3
