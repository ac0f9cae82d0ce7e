"""Create the pipeline's bucket on the compose stack's S3 server, then exit.

Run once by the `s3-init` service (with the worker image, which has boto3). Endpoint and
keys come from the standard AWS environment (AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, ...),
the bucket name from NEWSDEDUP_BUCKET. Safe to run again: an existing bucket is kept.
"""

from __future__ import annotations

import os
import sys
import time

import boto3
import botocore.exceptions


def ensure_bucket(bucket: str, timeout: float = 120.0) -> None:
    client = boto3.client("s3")
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    # The S3 port answers before the filer and volumes can store anything: retry until
    # a probe object can be written and deleted.
    while time.monotonic() < deadline:
        try:
            try:
                client.head_bucket(Bucket=bucket)
            except botocore.exceptions.ClientError as exc:
                if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
                    raise
                client.create_bucket(Bucket=bucket)
                print(f"created bucket {bucket}")
            client.put_object(Bucket=bucket, Key="_probe/ready", Body=b"ok")
            client.delete_object(Bucket=bucket, Key="_probe/ready")
            print(f"bucket {bucket} is writable")
            return
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            last = exc
            time.sleep(1.0)
    raise SystemExit(f"bucket {bucket} not writable after {timeout:.0f}s: {last}")


if __name__ == "__main__":
    name = os.environ.get("NEWSDEDUP_BUCKET") or (sys.argv[1] if len(sys.argv) > 1 else "")
    if not name:
        raise SystemExit("usage: NEWSDEDUP_BUCKET=name python s3_init.py")
    ensure_bucket(name)
