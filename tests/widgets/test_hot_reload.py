"""During development (a source checkout, ANYWIDGET_HMR=1) the widgets' module is a file kept joined
from js/: saving one of its files changes the joined file, which anywidget reloads in open widgets."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_saved_js_file_reaches_the_joined_module(tmp_path):
    script = textwrap.dedent(
        f"""
        import shutil, sys, time
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
        import camwidgets.core.assets as assets
        assets._asset_dir.cache_clear()
        js = Path({str(tmp_path)!r}) / "js"
        shutil.copytree({str(ROOT / "js")!r}, js, ignore=shutil.ignore_patterns(".hmr"))
        assets._asset_dir = lambda: js
        path = assets.widget_module()
        assert isinstance(path, Path) and path == js / ".hmr" / "app.js", path
        assert path.read_text() == "\\n".join((js / name).read_text() for name in assets.APP_MODULES)
        time.sleep(0.6)
        with (js / "fields.js").open("a") as file:
            file.write("\\n// an edit\\n")
        deadline = time.monotonic() + 10
        while "// an edit" not in path.read_text():
            assert time.monotonic() < deadline, "the joined module did not follow the edit"
            time.sleep(0.1)
        print("followed")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "ANYWIDGET_HMR": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "followed" in done.stdout, done.stderr


def test_without_hot_reload_the_module_is_text():
    from camwidgets.core.assets import app_module, widget_module

    if os.environ.get("ANYWIDGET_HMR") != "1":
        assert widget_module() == app_module()
