"""AWS adapters for the ports. Clients come from `clients()` (built once per cold start)."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from shared.errors import NotFoundError, SpaceportError, TransientError
from shared.events import EVENT_SOURCE, Event
from shared.jobs import Job, JobState
from shared.layout import split_uri
from shared.links import link_url, sign
from shared.ports import Email, ObjectStore, StageRun, StoredObject

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
    "ResourceLimitExceeded",
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
    names = ("events", "sagemaker", "dynamodb", "ses", "secretsmanager")
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


class SageMakerLauncher:
    """Processing jobs for sfm and compress, a Training job for train; names are deterministic."""

    def __init__(self, sagemaker: Any, image_uri: str, role_arn: str) -> None:
        self._sm = sagemaker
        self._image = image_uri
        self._role = role_arn

    def launch(self, run: StageRun) -> bool:
        try:
            if run.stage == "train":
                self._sm.create_training_job(**self.training_request(run))
            else:
                self._sm.create_processing_job(**self.processing_request(run))
        except ClientError as exc:
            code = error_code(exc)
            message = str(exc.response.get("Error", {}).get("Message", ""))
            if code == "ResourceInUse" or (code == "ValidationException" and "already exists" in message):
                return False
            raise translate(exc, f"create {run.run_name}") from exc
        return True

    def stop(self, stage: str, run_name: str) -> None:
        try:
            if stage == "train":
                self._sm.stop_training_job(TrainingJobName=run_name)
            else:
                self._sm.stop_processing_job(ProcessingJobName=run_name)
        except ClientError as exc:
            if error_code(exc) in {"ValidationException", "ResourceNotFound"}:
                return  # already finished or never started: nothing to stop
            raise translate(exc, f"stop {run_name}") from exc

    def processing_request(self, run: StageRun) -> dict[str, Any]:
        tags = [{"Key": k, "Value": v} for k, v in sorted({"spaceport:job": run.job_id, **run.tags}.items())]
        return {
            "ProcessingJobName": run.run_name,
            "RoleArn": self._role,
            "AppSpecification": {"ImageUri": self._image},
            "ProcessingResources": {
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": run.instance_type, "VolumeSizeInGB": 50}
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": run.max_runtime_s},
            "ProcessingInputs": [
                {
                    "InputName": "data",
                    "S3Input": {
                        "S3Uri": run.input_uri,
                        "LocalPath": "/opt/ml/processing/input/data",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                    },
                },
                {
                    # Written by the stage service before launch (Environment values cap at 256 chars).
                    "InputName": "config",
                    "S3Input": {
                        "S3Uri": run.config_uri,
                        "LocalPath": "/opt/ml/processing/input/config",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                    },
                },
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "result",
                        "S3Output": {
                            "S3Uri": run.output_uri,
                            "LocalPath": "/opt/ml/processing/output",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
            "Tags": tags,
        }

    def training_request(self, run: StageRun) -> dict[str, Any]:
        tags = [{"Key": k, "Value": v} for k, v in sorted({"spaceport:job": run.job_id, **run.tags}.items())]
        request: dict[str, Any] = {
            "TrainingJobName": run.run_name,
            "RoleArn": self._role,
            "AlgorithmSpecification": {"TrainingImage": self._image, "TrainingInputMode": "File"},
            "HyperParameters": {
                "config": json.dumps(run.config, separators=(",", ":")),
                "output_uri": run.output_uri,
            },
            "InputDataConfig": [
                {
                    "ChannelName": "sfm",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": run.input_uri,
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                }
            ],
            # Products are uploaded file by file to output_uri; this only holds SageMaker's tarball.
            "OutputDataConfig": {"S3OutputPath": run.output_uri + "sagemaker/"},
            "ResourceConfig": {"InstanceType": run.instance_type, "InstanceCount": 1, "VolumeSizeInGB": 50},
            "StoppingCondition": {"MaxRuntimeInSeconds": run.max_runtime_s},
            "Tags": tags,
        }
        if run.spot:
            request["EnableManagedSpotTraining"] = True
            request["StoppingCondition"]["MaxWaitTimeInSeconds"] = run.max_runtime_s * 2
        if run.checkpoint_uri:
            request["CheckpointConfig"] = {"S3Uri": run.checkpoint_uri, "LocalPath": "/opt/ml/checkpoints"}
        return request


def _to_item(value: Any) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer().serialize(value)


def _plain(model_dump: Any) -> Any:
    """JSON-safe structure for DynamoDB (floats become Decimal through a JSON round trip)."""
    from decimal import Decimal

    return json.loads(json.dumps(model_dump, default=str), parse_float=Decimal)


class DynamoJobTable:
    """Jobs table: partition key `job_id`; GSI `by_owner` (owner, created_at)."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._db = dynamodb
        self._table = table_name

    def _item(self, job: Job) -> dict[str, Any]:
        body = _plain(job.model_dump(mode="json"))
        return {key: _to_item(value) for key, value in body.items() if value is not None}

    def create(self, job: Job) -> bool:
        try:
            self._db.put_item(
                TableName=self._table,
                Item=self._item(job),
                ConditionExpression="attribute_not_exists(job_id)",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise translate(exc, "create job") from exc
        return True

    def get(self, job_id: str) -> Job | None:
        from boto3.dynamodb.types import TypeDeserializer

        try:
            found = self._db.get_item(TableName=self._table, Key={"job_id": {"S": job_id}}, ConsistentRead=True)
        except ClientError as exc:
            raise translate(exc, "get job") from exc
        if "Item" not in found:
            return None
        plain = {key: TypeDeserializer().deserialize(value) for key, value in found["Item"].items()}
        return Job.model_validate(json.loads(json.dumps(plain, default=_decimal)))

    def update(
        self,
        job_id: str,
        *,
        allowed_from: frozenset[JobState],
        state: JobState | None = None,
        changes: dict[str, Any] | None = None,
    ) -> bool:
        names: dict[str, str] = {"#state": "state", "#updated": "updated_at"}
        values: dict[str, Any] = {":updated": _to_item(datetime.now().astimezone().isoformat())}
        sets = ["#updated = :updated"]
        if state is not None:
            values[":state"] = _to_item(str(state))
            sets.append("#state = :state")
        for index, (path, value) in enumerate((changes or {}).items()):
            parts = path.split(".")
            placeholders = []
            for depth, part in enumerate(parts):
                names[f"#p{index}_{depth}"] = part
                placeholders.append(f"#p{index}_{depth}")
            values[f":v{index}"] = _to_item(_plain(value))
            sets.append(f"{'.'.join(placeholders)} = :v{index}")
        allowed = sorted(str(s) for s in allowed_from)
        for index, allowed_state in enumerate(allowed):
            values[f":from{index}"] = _to_item(allowed_state)
        condition = f"#state IN ({', '.join(f':from{i}' for i in range(len(allowed)))})"
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=f"attribute_exists(job_id) AND {condition}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise translate(exc, "update job") from exc
        return True

    def list_by_owner(self, owner: str, limit: int = 50) -> list[Job]:
        try:
            found = self._db.query(
                TableName=self._table,
                IndexName="by_owner",
                KeyConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
                ScanIndexForward=False,
                Limit=limit,
            )
        except ClientError as exc:
            raise translate(exc, "list jobs") from exc
        jobs = []
        for item in found.get("Items", []):
            job = self.get(item["job_id"]["S"])
            if job is not None:
                jobs.append(job)
        return jobs

    def claim_notification(self, job_id: str, token: str, now: datetime, lease_s: int) -> bool:
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression="SET notify_claim = :token, notify_claim_expires = :expires",
                ConditionExpression=(
                    "attribute_exists(job_id) AND attribute_not_exists(notified_at) AND "
                    "(attribute_not_exists(notify_claim) OR notify_claim_expires < :now OR notify_claim = :token)"
                ),
                ExpressionAttributeValues={
                    ":token": {"S": token},
                    ":expires": {"N": str(int(now.timestamp()) + lease_s)},
                    ":now": {"N": str(int(now.timestamp()))},
                },
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise translate(exc, "claim notification") from exc
        return True

    def finish_notification(self, job_id: str, token: str, sent_at: datetime) -> None:
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression="SET notified_at = :sent REMOVE notify_claim, notify_claim_expires",
                ConditionExpression="notify_claim = :token",
                ExpressionAttributeValues={":sent": {"S": sent_at.isoformat()}, ":token": {"S": token}},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return
            raise translate(exc, "finish notification") from exc

    def release_notification(self, job_id: str, token: str) -> None:
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression="REMOVE notify_claim, notify_claim_expires",
                ConditionExpression="notify_claim = :token",
                ExpressionAttributeValues={":token": {"S": token}},
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return
            raise translate(exc, "release notification") from exc


def _decimal(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(type(value).__name__)


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
