"""Run by bench/dataset_throughput.py under torchrun: explain_dataset over FOLDER into OUT with
THREADS torch threads per process; rank 0 prints ``seconds S``, the time from a barrier after
start-up (imports, model, process group) to the barrier after the run, after one warm-up run.

    torchrun --standalone --nproc_per_node=N bench/dataset_ranks.py FOLDER OUT THREADS
"""

from __future__ import annotations

import shutil
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torchvision  # noqa: E402

import camwidgets as cw  # noqa: E402

#: Rows per chunk: 64 images make 4 chunks, two for each of two ranks.
CHUNK_ROWS = 16


def main() -> None:
    folder, out, threads = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    warnings.filterwarnings("ignore")
    torch.set_num_threads(threads)
    dist.init_process_group("gloo")
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).eval()

    def run(target: Path) -> None:
        cw.explain_dataset(
            model,
            folder,
            out=target,
            batch_size=16,
            chunk_rows=CHUNK_ROWS,
            target_layers=[model.layer4[-1]],
            progress=False,
        )

    run(out / "warm-up")
    dist.barrier()
    start = time.perf_counter()
    run(out / "timed")
    dist.barrier()
    if dist.get_rank() == 0:
        print(f"seconds {time.perf_counter() - start:.3f}", flush=True)
        shutil.rmtree(out, ignore_errors=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
