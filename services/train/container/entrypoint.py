"""`python -m services.train.container.entrypoint --input SFM_OUT --output OUT [--config cfg.json]`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from shared.threads import apply_cpu_thread_defaults

apply_cpu_thread_defaults()  # before torch / OpenMP load (the imports below)

from services.train.container.config import Config  # noqa: E402
from services.train.container.program import run  # noqa: E402
from shared.container import stage_main  # noqa: E402
from shared.stage import StageName  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    return stage_main(StageName.TRAIN, run, Config, argv, with_checkpoints=True)


if __name__ == "__main__":
    sys.exit(main())
