"""Run by torchrun in tests/dataset: ``explain_dataset`` over FOLDER into OUT on every rank.

    torchrun --standalone --nproc_per_node=2 tests/dataset/distributed_run.py FOLDER OUT [CRASH_RANK CRASH_AFTER]

With CRASH_RANK and CRASH_AFTER, that rank dies (``os._exit``) once it has done CRASH_AFTER images,
as a killed process would: no cleanup, no barrier."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch.distributed as dist  # noqa: E402

from camwidgets import explain_dataset  # noqa: E402
from tests.dataset.common import SETTINGS, model  # noqa: E402


def main() -> None:
    folder, out = sys.argv[1], sys.argv[2]
    crash = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) > 4 else None

    def progress(done: int, total: int, description: str) -> None:
        if crash is not None and dist.get_rank() == crash[0] and done >= crash[1]:
            os._exit(3)

    explain_dataset(
        model(), folder, out=out, **{**SETTINGS, "progress": progress}
    )  # the settings of the single-process run compared with
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
