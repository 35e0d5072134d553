"""The Lambda bundle (infra/package_lambda.py) holds everything the handlers import, and no more."""

import json
import subprocess
import sys

from infra.package_lambda import stage

HANDLERS = ["ingest", "sfm", "train", "compress", "notify", "reconcile"]
PROBE = """
import json, sys
from shared.options import JobOptions
import services.ingest.handler, services.sfm.handler, services.train.handler
import services.compress.handler, services.notify.handler, services.reconcile.handler
import shared.adapters.sagemaker, shared.adapters.dynamo
from services.sfm import logic as s; from services.train import logic as t; from services.compress import logic as c
for logic in (s, t, c):
    logic.build_config(JobOptions())
ours = {n: m.__file__ for n, m in sys.modules.items() if n.split('.')[0] in ('shared', 'services') and getattr(m, '__file__', None)}
print(json.dumps(ours))
"""


def test_handlers_run_from_the_bundle_alone(tmp_path):
    out = stage(tmp_path / "bundle")
    loaded = json.loads(
        subprocess.run([sys.executable, "-c", PROBE], cwd=out, capture_output=True, text=True, check=True).stdout
    )
    outside = {name: path for name, path in loaded.items() if not path.startswith(str(out))}
    assert not outside, f"imported from outside the bundle: {outside}"


def test_the_bundle_leaves_out_stage_programs_and_local_adapters(tmp_path):
    out = stage(tmp_path / "bundle")
    assert not (out / "shared/adapters/local").exists()
    for stage_name in ("sfm", "train", "compress"):
        kept = sorted(p.name for p in (out / "services" / stage_name / "container").iterdir())
        assert kept == ["__init__.py", "config.py"]
    assert "torch" not in (out / "requirements.txt").read_text()
