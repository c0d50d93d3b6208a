"""The distribution: ``python -m build`` makes an sdist and a wheel from it; the wheel, installed into a
fresh virtual environment outside the checkout, runs the command line and builds an explorer whose
ES modules are the wheel's own files.

The fresh environment gets its dependencies (torch, ...) from the test's environment by a ``.pth``
line, so nothing is downloaded; that line adds the folder only, so the checkout's editable install is
not seen there (its own ``.pth`` files are not read)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
import camwidgets as cw
from camwidgets.core.assets import APP_MODULES, asset_path
from camwidgets.pretrained import load_model

model, weights = load_model("mobilenet_v2")
explorer = cw.CAMExplorer(model, ["chelsea"], labels=weights)
joined = "\\n".join(asset_path(name).read_text(encoding="utf-8") for name in APP_MODULES)
print(json.dumps({
    "package": cw.__file__,
    "modules": str(asset_path("app.js")),
    "esm_from_wheel": explorer._esm == joined,
    "status": explorer.overlay.status,
}))
"""


def _run(command: list, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run(
        [str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def test_the_wheel_installs_into_a_fresh_venv_and_runs_with_its_own_es_modules(tmp_path):
    dist = tmp_path / "dist"
    _run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, ROOT], cwd=tmp_path
    )  # sdist, then the wheel from it
    (sdist,), (wheel,) = dist.glob("*.tar.gz"), dist.glob("*.whl")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert any(name.endswith("/js/app.js") for name in names) and any(
        name.endswith("/pyproject.toml") for name in names
    )
    assert not any("/.venv/" in name or "/build/" in name for name in names)
    with zipfile.ZipFile(wheel) as archive:
        files = set(archive.namelist())
    assert {"camwidgets/js/app.js", "camwidgets/js/widgets.css", "camwidgets/data/shapes_cnn.pt"} <= files

    fresh = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=False).create(fresh)
    python = fresh / "bin" / "python"
    site = Path(
        _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=tmp_path).stdout.strip()
    )
    (site / "zz_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")  # torch & co., read-only
    _run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel],
        cwd=tmp_path,
    )

    picture = tmp_path / "demo.png"
    _run([fresh / "bin" / "camwidgets", "explain", "chelsea", "--out", picture], cwd=tmp_path)
    assert picture.stat().st_size > 10_000 and picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    probe = json.loads(_run([python, "-c", PROBE], cwd=tmp_path).stdout.strip().splitlines()[-1])
    assert Path(probe["package"]).is_relative_to(site), probe  # the wheel's package, not the checkout's
    assert Path(probe["modules"]) == site / "camwidgets" / "js" / "app.js", probe
    assert probe["esm_from_wheel"] and probe["status"].startswith("GradCAM · features.18"), probe
