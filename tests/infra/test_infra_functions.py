"""Functions, API, table and parameters in the template match what the code expects.

Entry points and environment variable names are the contract between the template and the
handlers (shared/settings.py reads the environment); these tests keep the two in step.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from infra.package_lambda import runtime_requirements
from infra.package_lambda import stage as stage_lambda_source
from shared.ports import Pipeline
from shared.pricing import USD_PER_HOUR
from shared.settings import CoreSettings, NotifySettings, ReconcileSettings, StageSettings
from tests.support.aws_env import template_parameters
from tests.support.template import REPO_ROOT, function_property, load, resources

HANDLERS = {
    "IngestApiFunction": "services.ingest.handler.api_handler",
    "IngestManifestFunction": "services.ingest.handler.manifest_handler",
    "SfmFunction": "services.sfm.handler.handler",
    "TrainFunction": "services.train.handler.handler",
    "CompressFunction": "services.compress.handler.handler",
    "NotifyFunction": "services.notify.handler.handler",
    "ReconcileFunction": "services.reconcile.handler.handler",
}
SERVICE_NAMES = {
    "IngestApiFunction": "ingest",
    "IngestManifestFunction": "ingest",
    "SfmFunction": "sfm",
    "TrainFunction": "train",
    "CompressFunction": "compress",
    "NotifyFunction": "notify",
    "ReconcileFunction": "reconcile",
}
STAGE_FUNCTIONS = ("SfmFunction", "TrainFunction", "CompressFunction")
SLOW_FUNCTIONS = (*STAGE_FUNCTIONS, "ReconcileFunction")  # SageMaker calls: a 60 s timeout
CORE_ENV = {
    "BUCKET_NAME",
    "EVENT_BUS_NAME",
    "JOBS_TABLE_NAME",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
}
STAGE_ENV = {"STAGE_IMAGE_URI", "STAGE_INSTANCE_TYPE", "SAGEMAKER_ROLE_ARN", "STAGE_MAX_RUNTIME_S"}
NOTIFY_ENV = {"SENDER_EMAIL", "LINK_EXPIRY_S", "VIEWER_BASE_URL"}
RECONCILE_ENV = {"RECONCILE_AFTER_S", "SFM_QUEUE_URL", "TRAIN_QUEUE_URL", "COMPRESS_QUEUE_URL"}
INSTANCE_ENV = {"SFM_INSTANCE_TYPE", "TRAIN_INSTANCE_TYPE", "COMPRESS_INSTANCE_TYPE"}
LINK_FUNCTIONS = ("IngestApiFunction", "NotifyFunction")  # make (and, the API, check) link tokens


def environment(logical_id: str) -> dict[str, Any]:
    return function_property(load(), logical_id, "Environment")["Variables"]


def resolved_environment(logical_id: str) -> dict[str, str]:
    """Parameters become their defaults (or test values); resource references a placeholder."""
    parameters = template_parameters(load())
    resolved = {}
    for name, value in environment(logical_id).items():
        if isinstance(value, dict) and "Ref" in value and value["Ref"] in parameters:
            resolved[name] = parameters[value["Ref"]]
        elif isinstance(value, dict):
            resolved[name] = f"resolved-{name.lower()}"
        else:
            resolved[name] = str(value)
    return resolved


def test_functions_are_exactly_the_seven_entry_points() -> None:
    functions = resources(load(), "AWS::Serverless::Function")
    assert {logical_id: f["Properties"]["Handler"] for logical_id, f in functions.items()} == HANDLERS


@pytest.mark.parametrize("logical_id", HANDLERS)
def test_function_runtime_architecture_tracing_and_timeout(logical_id: str) -> None:
    template = load()
    assert function_property(template, logical_id, "Runtime") == "python3.11"
    assert function_property(template, logical_id, "Architectures") == ["arm64"]
    assert function_property(template, logical_id, "Tracing") == "Active"
    assert function_property(template, logical_id, "MemorySize") == 256
    assert function_property(template, logical_id, "Timeout") == (60 if logical_id in SLOW_FUNCTIONS else 30)


@pytest.mark.parametrize("logical_id", HANDLERS)
def test_handler_module_defines_the_entry_point(logical_id: str) -> None:
    module, _, function = HANDLERS[logical_id].rpartition(".")
    path = REPO_ROOT / (module.replace(".", "/") + ".py")
    if not path.exists():
        pytest.skip(f"{path.relative_to(REPO_ROOT)} is not written yet")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    defined |= {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    assert function in defined, f"{path.name} has no {function}"


@pytest.mark.parametrize("logical_id", HANDLERS)
def test_function_environment_names(logical_id: str) -> None:
    names = set(environment(logical_id))
    expected = set(CORE_ENV)
    if logical_id in STAGE_FUNCTIONS:
        expected |= STAGE_ENV | ({"STAGE_USE_SPOT"} if logical_id == "TrainFunction" else set())
    if logical_id == "NotifyFunction":
        expected |= NOTIFY_ENV
    if logical_id == "ReconcileFunction":
        expected |= RECONCILE_ENV
    if logical_id in {"NotifyFunction", "IngestApiFunction", "IngestManifestFunction"}:
        expected |= INSTANCE_ENV
    if logical_id in LINK_FUNCTIONS:
        expected |= {"LINK_SECRET_ARN"}
    if logical_id == "NotifyFunction":
        expected |= {"PUBLIC_API_URL"}  # not on the API function: the Api is built from it (a cycle)
    assert names == expected
    assert environment(logical_id)["POWERTOOLS_SERVICE_NAME"] == SERVICE_NAMES[logical_id]
    assert environment(logical_id)["POWERTOOLS_METRICS_NAMESPACE"] == "Spaceport"


@pytest.mark.parametrize("logical_id", HANDLERS)
def test_settings_load_from_the_template_environment(
    logical_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in resolved_environment(logical_id).items():
        monkeypatch.setenv(name, value)
    CoreSettings.from_env()
    if logical_id in STAGE_FUNCTIONS:
        settings = StageSettings.from_env()
        assert settings.instance_type.startswith("ml.")
        assert settings.use_spot is False  # TrainUseSpot defaults to false
    if logical_id == "NotifyFunction":
        assert NotifySettings.from_env().link_expiry_s == 604800
    if logical_id == "ReconcileFunction":
        settings = ReconcileSettings.from_env()
        assert settings.after_s == 900 and set(settings.queue_urls) == {"sfm", "train", "compress"}


def test_stage_environment_points_at_the_stage_parameters_and_role() -> None:
    for stage in ("Sfm", "Train", "Compress"):
        env = environment(f"{stage}Function")
        assert env["STAGE_IMAGE_URI"] == {"Ref": f"{stage}ImageUri"}
        assert env["STAGE_INSTANCE_TYPE"] == {"Ref": f"{stage}InstanceType"}
        assert env["SAGEMAKER_ROLE_ARN"] == {"Fn::GetAtt": [f"{stage}SageMakerRole", "Arn"]}
        assert env["STAGE_MAX_RUNTIME_S"] == {"Ref": f"{stage}MaxRuntimeSeconds"}
    assert environment("TrainFunction")["STAGE_USE_SPOT"] == {"Ref": "TrainUseSpot"}


def test_parameters_and_their_defaults() -> None:
    parameters = load()["Parameters"]
    defaults = {name: spec.get("Default") for name, spec in parameters.items()}
    assert defaults["SfmInstanceType"] == "ml.c6i.2xlarge"
    assert defaults["TrainInstanceType"] == "ml.g4dn.xlarge"
    assert defaults["CompressInstanceType"] == "ml.c6i.4xlarge"
    assert defaults["TrainUseSpot"] == "false" and parameters["TrainUseSpot"]["AllowedValues"] == [
        "true",
        "false",
    ]
    assert defaults["LinkExpirySeconds"] == 604800 and parameters["LinkExpirySeconds"]["MaxValue"] == 604800
    assert defaults["AlarmEmail"] == ""
    assert defaults["ViewerOrigin"] == "https://superspl.at"
    for required in ("SfmImageUri", "TrainImageUri", "CompressImageUri", "SenderEmail", "ViewerBaseUrl"):
        assert required in parameters


def test_default_instance_types_have_a_price_for_cost_figures() -> None:
    parameters = load()["Parameters"]
    for name in ("SfmInstanceType", "TrainInstanceType", "CompressInstanceType"):
        assert parameters[name]["Default"] in USD_PER_HOUR


def test_redrive_count_matches_what_the_consumers_assume() -> None:
    for queue in ("IngestQueue", "SfmQueue", "TrainQueue", "CompressQueue", "NotifyQueue"):
        redrive = load()["Resources"][queue]["Properties"]["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == Pipeline(bucket="b", stages={}).max_receive_count


def test_jobs_table_matches_the_dynamodb_adapter() -> None:
    props = load()["Resources"]["JobsTable"]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [{"AttributeName": "job_id", "KeyType": "HASH"}]
    by_owner, by_state = props["GlobalSecondaryIndexes"]
    assert by_owner["IndexName"] == "by_owner"
    assert by_owner["KeySchema"] == [
        {"AttributeName": "owner", "KeyType": "HASH"},
        {"AttributeName": "created_at", "KeyType": "RANGE"},
    ]
    # The reconciler lists running jobs by state (DynamoJobTable.list_in_states).
    assert by_state["IndexName"] == "by_state"
    assert by_state["KeySchema"] == [
        {"AttributeName": "state", "KeyType": "HASH"},
        {"AttributeName": "updated_at", "KeyType": "RANGE"},
    ]
    assert by_state["Projection"] == {"ProjectionType": "ALL"}  # jobs read straight from the index
    types = {d["AttributeName"]: d["AttributeType"] for d in props["AttributeDefinitions"]}
    assert types == {"job_id": "S", "owner": "S", "created_at": "S", "state": "S", "updated_at": "S"}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}


def test_api_uses_iam_auth_on_the_four_job_routes_and_only_links_are_public() -> None:
    template = load()
    auth = template["Resources"]["Api"]["Properties"]["Auth"]
    assert auth["DefaultAuthorizer"] == "AWS_IAM"
    assert auth["InvokeRole"] == "NONE"  # callers need execute-api:Invoke only, not lambda:InvokeFunction
    assert set(auth) == {"DefaultAuthorizer", "InvokeRole"}  # no API-wide exception (e.g. a resource policy)
    events = template["Resources"]["IngestApiFunction"]["Properties"]["Events"]
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events.values()}
    assert routes == {
        ("post", "/jobs"),
        ("get", "/jobs"),
        ("get", "/jobs/{job_id}"),
        ("delete", "/jobs/{job_id}"),
        ("get", "/links/{token}"),
        ("get", "/links/{token}/{path+}"),  # files beside a linked lod-meta.json
    }
    assert all(e["Properties"]["RestApiId"] == {"Ref": "Api"} for e in events.values())
    public = {
        (e["Properties"]["Method"], e["Properties"]["Path"]): e["Properties"]["Auth"]
        for e in events.values()
        if "Auth" in e["Properties"]
    }
    assert public == {
        ("get", "/links/{token}"): {"Authorizer": "NONE"},
        ("get", "/links/{token}/{path+}"): {"Authorizer": "NONE"},
    }
    for logical_id, function in resources(template, "AWS::Serverless::Function").items():
        kinds = {e["Type"] for e in (function["Properties"].get("Events") or {}).values()}
        if logical_id != "IngestApiFunction":
            assert "Api" not in kinds, f"{logical_id} must not serve API routes"


def test_link_secret_is_generated_and_named_to_the_link_functions_only() -> None:
    template = load()
    (secret_id,) = resources(template, "AWS::SecretsManager::Secret")
    props = template["Resources"][secret_id]["Properties"]
    assert "SecretString" not in props  # generated at stack creation, never written in the template
    # Replacing or deleting the stack keeps the key: links already emailed keep working.
    assert template["Resources"][secret_id]["DeletionPolicy"] == "Retain"
    assert template["Resources"][secret_id]["UpdateReplacePolicy"] == "Retain"
    assert props["GenerateSecretString"]["PasswordLength"] >= 32  # shared/links.py MIN_SECRET_BYTES
    for logical_id in HANDLERS:
        arn = environment(logical_id).get("LINK_SECRET_ARN")
        assert arn == ({"Ref": secret_id} if logical_id in LINK_FUNCTIONS else None), logical_id


def test_notify_links_point_at_the_api_stage() -> None:
    template = load()
    stage = template["Resources"]["Api"]["Properties"]["StageName"]
    url = environment("NotifyFunction")["PUBLIC_API_URL"]
    assert url == {"Fn::Sub": f"https://${{Api}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{stage}"}
    assert template["Outputs"]["ApiUrl"]["Value"] == url  # the same URL the stack reports


def test_bucket_cors_lets_the_viewer_read_through_the_link_redirect() -> None:
    (rule,) = load()["Resources"]["Bucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert sorted(rule["AllowedMethods"]) == ["GET", "HEAD"]
    # The viewer's own origin, and "null": what a browser sends after the API's cross-origin 302.
    assert rule["AllowedOrigins"] == [{"Ref": "ViewerOrigin"}, "null"]


def test_bucket_sends_events_to_eventbridge() -> None:
    props = load()["Resources"]["Bucket"]["Properties"]
    assert props["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"] is True
    assert props["VersioningConfiguration"]["Status"] == "Enabled"


def test_outputs_name_the_api_bucket_bus_table_and_dlqs() -> None:
    outputs = set(load()["Outputs"])
    expected = {"ApiUrl", "BucketName", "EventBusName", "JobsTableName"}
    expected |= {f"{c}DeadLetterQueueUrl" for c in ("Ingest", "Sfm", "Train", "Compress", "Notify")}
    assert expected <= outputs


def test_lambda_package_holds_the_handlers_and_only_runtime_requirements(tmp_path: Path) -> None:
    out = stage_lambda_source(tmp_path / "lambda-src")
    for handler in HANDLERS.values():
        package = handler.split(".")[:2]
        assert (out / package[0] / package[1] / "__init__.py").exists()
    assert (out / "shared" / "settings.py").exists()
    requirements = (out / "requirements.txt").read_text(encoding="utf-8").split()
    assert requirements == runtime_requirements()
    assert not any(r.startswith(("torch", "pycolmap", "gsplat", "numpy")) for r in requirements)
    assert not list(out.rglob("__pycache__"))


def test_instance_type_parameters_allow_only_instances_of_their_job_kind() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    processing = set(model.shape_for("ProcessingInstanceType").enum)
    training = set(model.shape_for("TrainingInstanceType").enum)
    parameters = load()["Parameters"]
    for name, kind in (("SfmInstanceType", processing), ("CompressInstanceType", processing),
                       ("TrainInstanceType", training)):
        allowed = parameters[name]["AllowedValues"]
        assert parameters[name]["Default"] in allowed
        assert set(allowed) <= kind, f"{name}: {sorted(set(allowed) - kind)} are not valid for this job kind"
        assert "AllowedPattern" not in parameters[name]
    gpu = {"g4dn", "g5", "g6", "g6e"}  # single NVIDIA GPU families (see test_infra_images)
    assert {value.split(".")[1] for value in parameters["TrainInstanceType"]["AllowedValues"]} == gpu
    assert not {value.split(".")[1] for value in parameters["SfmInstanceType"]["AllowedValues"]} & gpu


def test_reconciler_runs_every_five_minutes_on_a_schedule() -> None:
    function = load()["Resources"]["ReconcileFunction"]["Properties"]
    (event,) = function["Events"].values()
    assert event == {
        "Type": "Schedule",
        "Properties": {
            "Schedule": "rate(5 minutes)",
            "Description": "Describe long-running Spaceport compute jobs and re-deliver finished ones",
        },
    }
    env = environment("ReconcileFunction")
    assert env["RECONCILE_AFTER_S"] == {"Ref": "ReconcileAfterSeconds"}
    for stage in ("Sfm", "Train", "Compress"):
        assert env[f"{stage.upper()}_QUEUE_URL"] == {"Ref": f"{stage}Queue"}
    assert load()["Parameters"]["ReconcileAfterSeconds"]["Default"] == 900
