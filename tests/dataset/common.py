"""What the dataset tests and their torchrun script share: a folder of small shapes images in two
class folders, one unreadable and one empty file among them, the model and the preprocessing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from tests.conftest import Small, seeded

SIZE = 32
PER_CLASS = 7
ROWS = 2 * PER_CLASS + 2  # and the broken and the empty file


def write_folder(root: Path) -> Path:
    """``root/circle/*.png``, ``root/square/*.png`` (seeded noise with a bright disc or square), plus
    ``square/broken.png`` (not an image) and ``circle/empty.png`` (0 bytes)."""
    rng = np.random.default_rng(0)
    for label, name in enumerate(("circle", "square")):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(PER_CLASS):
            image = rng.integers(0, 90, (SIZE, SIZE, 3), dtype=np.uint8)
            centre = tuple(int(v) for v in rng.integers(8, SIZE - 8, 2))
            if label == 0:
                cv2.circle(image, centre, 6, (240, 240, 240), -1)
            else:
                cv2.rectangle(
                    image, (centre[0] - 5, centre[1] - 5), (centre[0] + 5, centre[1] + 5), (240, 240, 240), -1
                )
            cv2.imwrite(str(folder / f"{index:02d}.png"), image)
    (root / "square" / "broken.png").write_bytes(b"not a png at all")
    (root / "circle" / "empty.png").write_bytes(b"")
    return root


def preprocess(image) -> torch.Tensor:
    """PIL image -> (3, 32, 32) float in [0, 1]."""
    array = np.asarray(image.convert("RGB").resize((SIZE, SIZE)), dtype=np.float32) / 255
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def model() -> torch.nn.Module:
    return seeded(Small, classes=2)


#: explain_dataset's settings in the tests: small batches and chunks, so that chunks and ranks matter.
SETTINGS = {
    "preprocess": preprocess,
    "batch_size": 3,
    "chunk_rows": 4,
    "metrics": ("confidence", "drop"),
    "progress": False,
}
