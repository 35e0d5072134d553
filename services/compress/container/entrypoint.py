"""The compression image's program: a SageMaker Processing job (no arguments), or
`python -m services.compress.container.entrypoint --input IN --output OUT [--config cfg.json]`
(shared/container.py)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from services.compress.container.config import Config
from services.compress.container.program import run
from shared.container import stage_main
from shared.stage import StageName


def main(argv: Sequence[str] | None = None) -> int:
    return stage_main(StageName.COMPRESS, run, Config, argv)


if __name__ == "__main__":
    sys.exit(main())
