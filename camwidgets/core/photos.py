"""Small sample photos bundled with camwidgets (in ``camwidgets/data/photos``), for examples and tests.

The photos are public-domain or CC0 images taken from scikit-image's sample data
and downscaled so that their longest side is at most 512 px. Credits and licences
are listed in ``photos/SOURCES.md`` next to the image files.

>>> from camwidgets.data import photo_names, load_photo
>>> photo_names()
['astronaut', 'chelsea', 'coffee', 'rocket']
>>> load_photo("chelsea", size=224).shape
(224, 337, 3)
"""

from __future__ import annotations

import difflib
import numbers
from pathlib import Path

import cv2
import numpy as np

from .image_files import decode_image_file

__all__ = ["PHOTOS_DIR", "photo_names", "photo_path", "load_photo"]

#: Folder holding the bundled image files (inside the installed package).
PHOTOS_DIR: Path = Path(__file__).resolve().parent.parent / "data" / "photos"

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _photo_files() -> dict[str, Path]:
    """Map each photo name (file name without extension) to its file."""
    if not PHOTOS_DIR.is_dir():
        raise FileNotFoundError(
            f"The bundled photo folder {PHOTOS_DIR} is missing. The camwidgets "
            "installation looks incomplete; try reinstalling the package."
        )
    return {p.stem: p for p in PHOTOS_DIR.iterdir() if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES}


def photo_names() -> list[str]:
    """Return the names of the bundled photos, sorted, without file extensions."""
    return sorted(_photo_files())


def photo_path(name: str) -> Path:
    """Return the path of the bundled photo called ``name`` (e.g. ``"chelsea"``).

    The file name with its extension (``"chelsea.png"``) is accepted too.
    Raises ``ValueError`` for an unknown name, listing the available names.
    """
    if not isinstance(name, str):
        raise TypeError(
            f"Photo name must be a string such as 'chelsea', got {type(name).__name__}. "
            f"Available photos: {', '.join(photo_names())}."
        )
    files = _photo_files()
    if name in files:
        return files[name]
    # Also accept the full file name, e.g. "rocket.jpg".
    stem = Path(name).stem
    if stem in files and files[stem].name == name:
        return files[stem]

    available = sorted(files)
    close = difflib.get_close_matches(stem.lower(), available, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"Unknown photo name {name!r}.{hint} "
        f"Available photos: {', '.join(available)} (see camwidgets.data.photo_names())."
    )


def _check_size(size: object) -> int | tuple[int, int] | None:
    """Validate the ``size`` argument of :func:`load_photo`."""
    if size is None:
        return None
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        if size <= 0:
            raise ValueError(f"size must be a positive number of pixels for the shorter side, got {size}.")
        return int(size)
    if (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in size)
    ):
        return int(size[0]), int(size[1])
    raise ValueError(
        f"size must be None, a positive int (length of the shorter side, aspect kept) "
        f"or a (width, height) tuple of positive ints; got {size!r}. "
        "Try size=224 or size=(224, 224)."
    )


def load_photo(name: str, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """Load a bundled photo as an RGB ``uint8`` array of shape ``(H, W, 3)``.

    ``size``:

    * ``None``: the stored size (longest side at most 512 px);
    * ``int`` ``s``: the shorter side becomes ``s`` and the longer side
      ``round(long * s / short)``, so the aspect ratio is kept;
    * ``(width, height)``: exactly that size (aspect ratio not kept).

    Downscaling uses ``cv2.INTER_AREA``, upscaling ``cv2.INTER_LINEAR``.
    Each call returns a new array that the caller may modify freely.
    """
    path = photo_path(name)
    target = _check_size(size)

    try:
        rgb = decode_image_file(path, max_pixels=None)
    except ValueError as error:
        raise OSError(
            f"Could not decode the bundled photo {path}. The file may be damaged; try reinstalling camwidgets."
        ) from error

    if target is None:
        return rgb
    height, width = rgb.shape[:2]
    if isinstance(target, int):
        scale = target / min(height, width)
        new_w = target if width <= height else max(1, round(width * scale))
        new_h = target if height <= width else max(1, round(height * scale))
    else:
        new_w, new_h = target
    if (new_w, new_h) == (width, height):
        return rgb
    shrinking = new_w * new_h < width * height
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(rgb, (new_w, new_h), interpolation=interpolation)
