"""Build Spaceport's AWS resources in moto from `infra/template.yaml` itself.

Call `build()` inside `moto.mock_aws()`. It walks the template's resources, resolves the intrinsic
functions it meets (Ref, GetAtt, Sub, Join, Select, Split, If) and creates each supported resource
with the properties the template gives it, in dependency order: the bucket (EventBridge
notifications on), the event bus, the queues with their redrive policies and queue policies, the
rules with their patterns and SQS targets, the jobs table with its index, the SageMaker roles, the
link secret (its value generated the way `GenerateSecretString` says, by moto's
`get_random_password`). Then it verifies the SES sender identity (a parameter, not a resource).
IaC and tests cannot drift: change the template and the moto world changes with it.

Not created (no behaviour moto could check here): functions, the API, alarms, the SNS topic;
`SpaceportAws.function_env()` gives a function's environment as the template resolves it, so a
test can run a handler against these resources. The API's `!Ref` is `TEST_API_ID`.

Where moto 5.2 differs from AWS (checked statically in tests/infra instead):
- bucket policies are evaluated without their `Condition`, so the TLS-only Deny would refuse
  every request: conditional bucket-policy statements are not applied here;
- SQS queue policies and IAM are not enforced: a rule delivers even without the queue policy;
- S3 hands its events to rules on every bus, not only the default bus;
- `put_events` accepts `aws.*` sources (AWS refuses them), which lets tests play SageMaker;
- rule targets' DeadLetterConfig and RetryPolicy are stored but never used, and S3-to-EventBridge
  errors are swallowed: assert that events arrive, not that nothing failed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_args

import boto3
import moto  # noqa: F401 - registers moto's botocore hooks before our session is made

from shared.routing import Consumer
from tests.support.template import function_property, load

ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_REGION = "us-east-1"
STACK_NAME = "spaceport"
TEST_PARAMETERS: dict[str, str] = {
    "SfmImageUri": f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/spaceport-sfm:test",
    "TrainImageUri": f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/spaceport-train:test",
    "CompressImageUri": f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/spaceport-compress:test",
    "SenderEmail": "spaceport@example.com",
}
TEST_API_ID = "spcprt0api"  # what `!Ref Api` gives (the REST API is not created in moto)
SUPPORTED_TYPES = (
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::Events::EventBus",
    "AWS::Events::Rule",
    "AWS::SQS::Queue",
    "AWS::SQS::QueuePolicy",
    "AWS::DynamoDB::Table",
    "AWS::IAM::Role",
    "AWS::SecretsManager::Secret",
)
_PLACEHOLDER_REFS = {"AWS::Serverless::Api": TEST_API_ID}
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


_SESSION: list[boto3.session.Session] = []


def session() -> boto3.session.Session:
    """One boto3 session for the test run: its loaded service models make new clients cheap.

    (`mock_aws()` resets boto3's default session on start, so `boto3.client` reloads every
    model from disk: about 0.1 s per client.)
    """
    if not _SESSION:
        _SESSION.append(boto3.session.Session())
    return _SESSION[0]


class TemplateError(ValueError):
    """The template uses something this builder does not understand."""


@dataclass
class SpaceportAws:
    """Names and URLs of the resources `build()` created."""

    region: str
    account: str
    stack: str
    bucket: str
    event_bus: str
    table: str
    sender: str
    queue_urls: dict[str, str]  # consumer -> work queue URL
    dlq_urls: dict[str, str]  # consumer -> dead-letter queue URL
    rules: dict[str, tuple[str, str]]  # rule logical id -> (bus name, rule name)
    refs: dict[str, str] = field(repr=False)  # logical id -> what !Ref gives
    attributes: dict[str, dict[str, str]] = field(repr=False)  # logical id -> GetAtt values
    parameters: dict[str, str] = field(repr=False)
    template: dict[str, Any] = field(repr=False)

    def resolve(self, value: Any) -> Any:
        return _Resolver(self.template, self.parameters, self.refs, self.attributes, self.region).resolve(
            value
        )

    def function_env(self, logical_id: str) -> dict[str, str]:
        """The function's environment variables (Globals merged) with every intrinsic resolved."""
        env = function_property(self.template, logical_id, "Environment") or {}
        return {name: str(self.resolve(value)) for name, value in env.get("Variables", {}).items()}

    def client(self, service: str) -> Any:
        return session().client(service, region_name=self.region)


class _Resolver:
    def __init__(
        self,
        template: dict[str, Any],
        parameters: dict[str, str],
        refs: dict[str, str],
        attributes: dict[str, dict[str, str]],
        region: str,
    ) -> None:
        self._template = template
        self._refs = {
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Region": region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": STACK_NAME,
            "AWS::NoValue": None,
            **parameters,
            **refs,
        }
        self._attributes = attributes

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self._template["Conditions"][name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not None]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = self._functions().get(key)
            if handler is not None:
                return handler(arg)
            if key.startswith("Fn::"):
                raise TemplateError(f"unsupported intrinsic function {key}")
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not None}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": lambda arg: str(self.resolve(arg[0])).join(str(v) for v in self.resolve(arg[1])),
            "Fn::Select": lambda arg: self.resolve(arg[1])[int(self.resolve(arg[0]))],
            "Fn::Split": lambda arg: str(self.resolve(arg[1])).split(str(self.resolve(arg[0]))),
            "Fn::If": lambda arg: self.resolve(arg[1] if self.condition(arg[0]) else arg[2]),
            "Fn::Equals": lambda arg: self.resolve(arg[0]) == self.resolve(arg[1]),
            "Fn::Not": lambda arg: not self.resolve(arg[0]),
            "Fn::And": lambda arg: all(self.resolve(v) for v in arg),
            "Fn::Or": lambda arg: any(self.resolve(v) for v in arg),
            "Condition": self.condition,
        }

    def _ref(self, name: str) -> Any:
        if name not in self._refs:
            raise TemplateError(f"!Ref {name}: not a parameter or a created resource")
        return self._refs[name]

    def _get_att(self, arg: Any) -> str:
        logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
        try:
            return self._attributes[logical_id][attribute]
        except KeyError as exc:
            raise TemplateError(f"!GetAtt {logical_id}.{attribute}: not available") from exc

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return self._get_att(name)
            return str(self._ref(name))

        return _SUB_VARIABLE.sub(replace, text)


def _dependencies(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add((arg.split(".", 1) if isinstance(arg, str) else arg)[0])
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                found.update(name.split(".", 1)[0] for name in _SUB_VARIABLE.findall(text))
                if not isinstance(arg, str):
                    found.update(_dependencies(arg[1]))
            else:
                found.update(_dependencies(arg))
    elif isinstance(value, list):
        for item in value:
            found.update(_dependencies(item))
    return found


def _creation_order(resources: dict[str, dict[str, Any]]) -> list[str]:
    order: list[str] = []
    visiting: set[str] = set()

    def visit(logical_id: str) -> None:
        if logical_id in order:
            return
        if logical_id in visiting:
            raise TemplateError(f"dependency cycle through {logical_id}")
        visiting.add(logical_id)
        for needed in sorted(_dependencies(resources[logical_id].get("Properties", {}))):
            if needed in resources:
                visit(needed)
        visiting.discard(logical_id)
        order.append(logical_id)

    for logical_id in resources:
        visit(logical_id)
    return order


def _attribute_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


class _Builder:
    def __init__(self, template: dict[str, Any], parameters: dict[str, str], region: str) -> None:
        self.template = template
        self.parameters = parameters
        self.region = region
        self.refs: dict[str, str] = {}
        self.attributes: dict[str, dict[str, str]] = {}
        self.rules: dict[str, tuple[str, str]] = {}
        self.s3 = session().client("s3", region_name=region)
        self.events = session().client("events", region_name=region)
        self.sqs = session().client("sqs", region_name=region)
        self.dynamodb = session().client("dynamodb", region_name=region)
        self.iam = session().client("iam", region_name=region)
        self.secretsmanager = session().client("secretsmanager", region_name=region)

    def resolve(self, value: Any) -> Any:
        return _Resolver(self.template, self.parameters, self.refs, self.attributes, self.region).resolve(
            value
        )

    def physical_name(self, logical_id: str) -> str:
        return f"{STACK_NAME}-{logical_id}"

    def create(self, logical_id: str, resource: dict[str, Any]) -> None:
        if "Condition" in resource and not self.resolve({"Condition": resource["Condition"]}):
            return
        props = self.resolve(resource.get("Properties", {}) or {})
        creator = getattr(self, "_" + resource["Type"].replace("AWS::", "").replace("::", "_").lower())
        creator(logical_id, props)

    # One method per supported resource type, named after it.

    def _s3_bucket(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("BucketName") or f"{STACK_NAME}-{logical_id.lower()}-{ACCOUNT_ID}"
        if self.region == "us-east-1":
            self.s3.create_bucket(Bucket=name)
        else:
            self.s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.region})
        if "VersioningConfiguration" in props:
            self.s3.put_bucket_versioning(
                Bucket=name, VersioningConfiguration=props["VersioningConfiguration"]
            )
        if "PublicAccessBlockConfiguration" in props:
            self.s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        if "BucketEncryption" in props:
            rules = [
                {
                    "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                    **({"BucketKeyEnabled": rule["BucketKeyEnabled"]} if "BucketKeyEnabled" in rule else {}),
                }
                for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            self.s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        if "OwnershipControls" in props:
            self.s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
        if "CorsConfiguration" in props:
            cors_rules = [
                {{"Id": "ID", "MaxAge": "MaxAgeSeconds"}.get(key, key): value for key, value in rule.items()}
                for rule in props["CorsConfiguration"]["CorsRules"]
            ]
            self.s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": cors_rules})
        notifications = props.get("NotificationConfiguration", {})
        if notifications.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
            self.s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )
        self.refs[logical_id] = name
        self.attributes[logical_id] = {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
        }

    def _s3_bucketpolicy(self, logical_id: str, props: dict[str, Any]) -> None:
        # moto evaluates bucket policies but ignores `Condition`: the TLS-only statement (Deny s3:*
        # when aws:SecureTransport is false) would deny every request. Conditional statements are
        # left out here; tests/infra checks them on the template instead.
        document = dict(props["PolicyDocument"])
        document["Statement"] = [s for s in document["Statement"] if "Condition" not in s]
        if document["Statement"]:
            self.s3.put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(document))

    def _events_eventbus(self, logical_id: str, props: dict[str, Any]) -> None:
        arn = self.events.create_event_bus(Name=props["Name"])["EventBusArn"]
        self.refs[logical_id] = props["Name"]
        self.attributes[logical_id] = {"Arn": arn, "Name": props["Name"]}

    def _events_rule(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("Name") or self.physical_name(logical_id)
        bus = props.get("EventBusName", "default")
        arn = self.events.put_rule(
            Name=name,
            EventBusName=bus,
            EventPattern=json.dumps(props["EventPattern"]),
            State=props.get("State", "ENABLED"),
            Description=props.get("Description", ""),
        )["RuleArn"]
        targets = props.get("Targets", [])
        if targets:
            self.events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        self.rules[logical_id] = (bus, name)
        self.refs[logical_id] = name
        self.attributes[logical_id] = {"Arn": arn}

    def _sqs_queue(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("QueueName") or self.physical_name(logical_id)
        attributes = {
            key: _attribute_value(value) for key, value in props.items() if key not in {"QueueName", "Tags"}
        }
        url = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.refs[logical_id] = url
        self.attributes[logical_id] = {"Arn": arn, "QueueName": name, "QueueUrl": url}

    def _sqs_queuepolicy(self, logical_id: str, props: dict[str, Any]) -> None:
        for url in props["Queues"]:
            self.sqs.set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
            )

    def _dynamodb_table(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("TableName") or self.physical_name(logical_id)
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if props.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if "SSESpecification" in props:
            request["SSESpecification"] = {"Enabled": bool(props["SSESpecification"].get("SSEEnabled"))}
        description = self.dynamodb.create_table(**request)["TableDescription"]
        pitr = props.get("PointInTimeRecoverySpecification", {})
        if pitr.get("PointInTimeRecoveryEnabled"):
            self.dynamodb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        self.refs[logical_id] = name
        self.attributes[logical_id] = {"Arn": description["TableArn"]}

    def _iam_role(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("RoleName") or self.physical_name(logical_id)
        role = self.iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]),
            Description=props.get("Description", ""),
        )["Role"]
        for policy in props.get("Policies", []):
            self.iam.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(policy["PolicyDocument"]),
            )
        self.refs[logical_id] = name
        self.attributes[logical_id] = {"Arn": role["Arn"], "RoleId": role["RoleId"]}


    def _secretsmanager_secret(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("Name") or self.physical_name(logical_id)
        if "SecretString" in props:
            value = str(props["SecretString"])
        else:
            spec = dict(props.get("GenerateSecretString") or {})
            template_text, key = spec.pop("SecretStringTemplate", None), spec.pop("GenerateStringKey", None)
            if (template_text is None) != (key is None):
                raise TemplateError(f"{logical_id}: SecretStringTemplate and GenerateStringKey go together")
            value = self.secretsmanager.get_random_password(**spec)["RandomPassword"]
            if template_text is not None:
                value = json.dumps({**json.loads(template_text), key: value})
        request: dict[str, Any] = {"Name": name, "SecretString": value}
        if props.get("Description"):
            request["Description"] = props["Description"]
        arn = self.secretsmanager.create_secret(**request)["ARN"]
        self.refs[logical_id] = arn  # !Ref of a secret is its ARN
        self.attributes[logical_id] = {"Id": arn}


_OFFLINE_ARNS = {
    "AWS::S3::Bucket": "arn:aws:s3:::{name}",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{name}",
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{name}",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "AWS::Events::EventBus": "arn:aws:events:{region}:{account}:event-bus/{name}",
    "AWS::Events::Rule": "arn:aws:events:{region}:{account}:rule/{name}",
    "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{name}",
    "AWS::Serverless::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::SecretsManager::Secret": "arn:aws:secretsmanager:{region}:{account}:secret:{name}-AbCdEf",
}
_REF_IS_ARN = {"AWS::SecretsManager::Secret"}


def offline_resolver(
    template: dict[str, Any] | None = None,
    parameters: dict[str, str] | None = None,
    region: str = DEFAULT_REGION,
) -> Callable[[Any], Any]:
    """Resolve intrinsics without creating anything: each resource gets a predictable name
    (`spaceport-<logicalid>`, lower case for the bucket) and the ARN AWS would give it."""
    template = template if template is not None else load()
    refs: dict[str, str] = {}
    attributes: dict[str, dict[str, str]] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        kind = resource.get("Type", "")
        name = f"{STACK_NAME}-{logical_id.lower() if kind == 'AWS::S3::Bucket' else logical_id}"
        if kind == "AWS::Events::EventBus":
            name = STACK_NAME
        arn = _OFFLINE_ARNS.get(kind, "arn:aws:unknown:{region}:{account}:{name}").format(
            name=name, region=region, account=ACCOUNT_ID
        )
        refs[logical_id] = arn if kind in _REF_IS_ARN else _PLACEHOLDER_REFS.get(kind, name)
        attributes[logical_id] = {"Arn": arn, "QueueName": name, "Name": name}
    resolver = _Resolver(template, template_parameters(template, parameters), refs, attributes, region)
    return resolver.resolve


def template_parameters(template: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Parameter values: the template's defaults, test values for the required ones, then overrides."""
    values: dict[str, str] = {}
    for name, spec in template.get("Parameters", {}).items():
        if "Default" in spec:
            values[name] = str(spec["Default"])
        elif name in TEST_PARAMETERS:
            values[name] = TEST_PARAMETERS[name]
        else:
            raise TemplateError(f"parameter {name} has no default and no test value")
    values.update(overrides or {})
    return values


def build(
    parameters: dict[str, str] | None = None,
    region: str = DEFAULT_REGION,
    template: dict[str, Any] | None = None,
) -> SpaceportAws:
    """Create the template's resources in the active moto mock and return their names."""
    template = template if template is not None else load()
    values = template_parameters(template, parameters)
    builder = _Builder(template, values, region)
    supported = {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") in SUPPORTED_TYPES
    }
    for logical_id in _creation_order(supported):
        builder.create(logical_id, supported[logical_id])
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") in _PLACEHOLDER_REFS:
            builder.refs[logical_id] = _PLACEHOLDER_REFS[resource["Type"]]

    sender = values["SenderEmail"]
    session().client("ses", region_name=region).verify_email_identity(EmailAddress=sender)

    consumers = get_args(Consumer)
    queue_urls = {
        c: builder.refs[f"{c.capitalize()}Queue"]
        for c in consumers
        if f"{c.capitalize()}Queue" in builder.refs
    }
    dlq_urls = {
        c: builder.refs[f"{c.capitalize()}DeadLetterQueue"]
        for c in consumers
        if f"{c.capitalize()}DeadLetterQueue" in builder.refs
    }
    return SpaceportAws(
        region=region,
        account=ACCOUNT_ID,
        stack=STACK_NAME,
        bucket=builder.refs["Bucket"],
        event_bus=builder.refs["EventBus"],
        table=builder.refs["JobsTable"],
        sender=sender,
        queue_urls=queue_urls,
        dlq_urls=dlq_urls,
        rules=builder.rules,
        refs=builder.refs,
        attributes=builder.attributes,
        parameters=values,
        template=template,
    )
