"""Settings every test session shares, applied before any test module imports a handler."""

from __future__ import annotations

import os

# The Lambda handlers build their Powertools `Metrics` at import, reading the namespace from the
# environment (the template sets it for every function). Without this, a test that imports a
# handler before the cloud fixture sets the variable leaves a namespace-less `Metrics` behind, and
# every later handler call fails to flush ("Must contain a metric namespace").
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SpaceportTest")
