"""The JobTable port on DynamoDB: partition key `job_id`; GSIs `by_owner` (owner, created_at) for
the API's listing and `by_state` (state, updated_at) for the reconciler."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from shared.adapters.aws import error_code, translate
from shared.jobs import Job, JobState


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
        try:
            found = self._db.get_item(TableName=self._table, Key={"job_id": {"S": job_id}}, ConsistentRead=True)
        except ClientError as exc:
            raise translate(exc, "get job") from exc
        return _job_of(found["Item"]) if "Item" in found else None

    def list_in_states(self, states: frozenset[JobState], limit: int = 500) -> list[Job]:
        """Jobs in any of `states`, through the `by_state` index (eventually consistent: callers
        read each job again before acting)."""
        jobs: list[Job] = []
        for state in sorted(str(s) for s in states):
            request: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": "by_state",
                "KeyConditionExpression": "#state = :state",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": {":state": {"S": state}},
            }
            while len(jobs) < limit:
                try:
                    page = self._db.query(**request)
                except ClientError as exc:
                    raise translate(exc, "list jobs by state") from exc
                jobs.extend(_job_of(item) for item in page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return jobs[:limit]

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


def _job_of(item: dict[str, Any]) -> Job:
    from boto3.dynamodb.types import TypeDeserializer

    plain = {key: TypeDeserializer().deserialize(value) for key, value in item.items()}
    return Job.model_validate(json.loads(json.dumps(plain, default=_decimal)))


def _decimal(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(type(value).__name__)
