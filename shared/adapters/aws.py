"""AWS adapters for the ports. Clients come from `clients()` (built once per cold start).

S3, Secrets Manager, EventBridge, SES and SQS live here; the SageMaker launcher in
shared/adapters/sagemaker.py and the DynamoDB jobs table in shared/adapters/dynamo.py.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from shared.errors import NotFoundError, SpaceportError, TransientError
from shared.events import EVENT_SOURCE, Event
from shared.layout import split_uri
from shared.links import link_url, sign
from shared.ports import Email, JobDescription, ObjectStore, StoredObject

MAX_LINK_EXPIRY_S = 7 * 24 * 3600

_THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestThrottled",
    "SlowDown",
    "ServiceUnavailable",
    "InternalServerError",
    "InternalFailure",
}


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def translate(exc: ClientError, what: str) -> SpaceportError:
    code = error_code(exc)
    if code in _THROTTLING:
        return TransientError(f"{what}: {code}")
    if code in {"NoSuchKey", "404", "NotFound", "ResourceNotFound"}:
        return NotFoundError(f"{what}: {code}")
    return SpaceportError(f"{what}: {code}")


@functools.cache
def clients() -> dict[str, Any]:
    config = BotoConfig(retries={"mode": "standard", "max_attempts": 5})
    # SigV4 presigning: links carry X-Amz-Expires and S3 refuses any longer than 7 days.
    s3_config = config.merge(BotoConfig(signature_version="s3v4", s3={"addressing_style": "virtual"}))
    session = boto3.session.Session()
    names = ("events", "sagemaker", "dynamodb", "ses", "secretsmanager", "sqs")
    made = {name: session.client(name, config=config) for name in names}
    made["s3"] = session.client("s3", config=s3_config)
    return made


class S3ObjectStore:
    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def get_bytes(self, uri: str) -> bytes:
        bucket, key = split_uri(uri)
        try:
            return self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            raise translate(exc, f"get {uri}") from exc

    def read_range(self, uri: str, start: int, length: int) -> bytes:
        bucket, key = split_uri(uri)
        try:
            body = self._s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{start + length - 1}")
        except ClientError as exc:
            raise translate(exc, f"get {uri}") from exc
        return body["Body"].read()

    def put_bytes(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        bucket, key = split_uri(uri)
        try:
            self._s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
        except ClientError as exc:
            raise translate(exc, f"put {uri}") from exc

    def list(self, prefix_uri: str) -> list[StoredObject]:
        bucket, prefix = split_uri(prefix_uri)
        found: list[StoredObject] = []
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    found.append(
                        StoredObject(f"s3://{bucket}/{item['Key']}", int(item["Size"]), item.get("ETag", "").strip('"'))
                    )
        except ClientError as exc:
            raise translate(exc, f"list {prefix_uri}") from exc
        return found

    def head(self, uri: str) -> StoredObject | None:
        bucket, key = split_uri(uri)
        try:
            head = self._s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise translate(exc, f"head {uri}") from exc
        return StoredObject(uri, int(head["ContentLength"]), head.get("ETag", "").strip('"'))

    def link(self, uri: str, expires_s: int) -> str:
        if not 0 < expires_s <= MAX_LINK_EXPIRY_S:
            raise ValueError(f"links expire within 7 days, not {expires_s} s")
        bucket, key = split_uri(uri)
        return self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_s
        )


class SecretsManagerSecret:
    """A secret's value, fetched from Secrets Manager on first use and kept for the cold start."""

    def __init__(self, secretsmanager: Any, secret_id: str) -> None:
        self._sm = secretsmanager
        self._id = secret_id
        self._value: bytes | None = None

    def value(self) -> bytes:
        if self._value is None:
            try:
                found = self._sm.get_secret_value(SecretId=self._id)
            except ClientError as exc:
                raise translate(exc, "get link secret") from exc
            self._value = str(found["SecretString"]).encode("utf-8")
        return self._value


class TokenLinkStore:
    """An object store whose links are `<base_url>/links/<token>` (shared/links.py).

    The token outlives any credentials: `GET /links/<token>` presigns a fresh S3 URL when it is
    opened. Everything else is the wrapped store's; `direct` is that store, whose links are the
    short presigned URLs the redirect points at.
    """

    def __init__(
        self,
        direct: ObjectStore,
        secret: Callable[[], bytes],
        base_url: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.direct = direct
        self._secret = secret
        self._base_url = base_url
        self._clock = clock

    def get_bytes(self, uri: str) -> bytes:
        return self.direct.get_bytes(uri)

    def put_bytes(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.direct.put_bytes(uri, data, content_type)

    def list(self, prefix_uri: str) -> list[StoredObject]:
        return self.direct.list(prefix_uri)

    def head(self, uri: str) -> StoredObject | None:
        return self.direct.head(uri)

    def read_range(self, uri: str, start: int, length: int) -> bytes:
        return self.direct.read_range(uri, start, length)

    def link(self, uri: str, expires_s: int) -> str:
        if not 0 < expires_s <= MAX_LINK_EXPIRY_S:
            raise ValueError(f"links expire within 7 days, not {expires_s} s")
        now = int(self._clock())
        return link_url(self._base_url, sign(self._secret(), uri, now + expires_s, now=now), uri)


class EventBridgeBus:
    def __init__(self, events: Any, bus_name: str) -> None:
        self._events = events
        self._bus = bus_name

    def publish(self, event: Event) -> None:
        entry = {
            "Source": EVENT_SOURCE,
            "DetailType": event.detail_type(),
            "Detail": event.model_dump_json(),
            "EventBusName": self._bus,
        }
        try:
            result = self._events.put_events(Entries=[entry])
        except ClientError as exc:
            raise translate(exc, "put_events") from exc
        if result.get("FailedEntryCount"):
            failed = result["Entries"][0]
            raise TransientError(f"put_events rejected: {failed.get('ErrorCode')} {failed.get('ErrorMessage')}")


class SesMailer:
    def __init__(self, ses: Any, sender: str) -> None:
        self._ses = ses
        self._sender = sender

    def send(self, email: Email) -> str:
        try:
            result = self._ses.send_email(
                Source=self._sender,
                Destination={"ToAddresses": [email.to]},
                Message={
                    "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": email.text, "Charset": "UTF-8"},
                        "Html": {"Data": email.html, "Charset": "UTF-8"},
                    },
                },
            )
        except ClientError as exc:
            raise translate(exc, "send email") from exc
        return str(result["MessageId"])


class SqsStateChangeSender:
    """Puts a SageMaker state change into a stage's queue exactly as EventBridge's rule would
    deliver it (the reconciler's way back into the stage service's own code path)."""

    def __init__(self, sqs: Any, queue_urls: dict[str, str], region: str, account: str) -> None:
        self._sqs = sqs
        self._queue_urls = queue_urls
        self._region = region
        self._account = account

    def redeliver(self, stage: str, description: JobDescription) -> None:
        import uuid
        from datetime import UTC, datetime

        from shared.events import SAGEMAKER_SOURCE

        name = str(description.detail.get("TrainingJobName") or description.detail.get("ProcessingJobName"))
        arn = str(description.detail.get("TrainingJobArn") or description.detail.get("ProcessingJobArn") or "")
        body = {
            "version": "0",
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"reconciled/{name}/{description.detail_type}")),
            "detail-type": description.detail_type,
            "source": SAGEMAKER_SOURCE,
            "account": self._account,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self._region,
            "resources": [arn] if arn else [],
            "detail": description.detail,
        }
        try:
            self._sqs.send_message(QueueUrl=self._queue_urls[stage], MessageBody=json.dumps(body))
        except ClientError as exc:
            raise translate(exc, f"send {name} to the {stage} queue") from exc
