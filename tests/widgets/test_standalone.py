"""The self-contained HTML page (camwidgets.render.page): its bytes decode to the views given,
texts cannot escape the JSON script, bad input is refused, the gallery pixels drawn in the page equal
the kernel's thumbnails bit for bit (under Node), and CAMExplorer.to_html saves what is shown."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import zlib
from dataclasses import replace

import numpy as np
import pytest

from camwidgets.core.assets import app_module, asset_path
from camwidgets.core.pictures import overlay_thumbnails, square
from camwidgets.render.page import PageView, standalone_page, write_page
from tests.conftest import MARKUP

from .test_js_logic import NODE


def page_data(page: str) -> dict:
    """The JSON of a standalone page."""
    match = re.search(r"<script type='application/json' id='cw-page-data'>(.*?)</script>", page, re.S)
    assert match, "the page has no data script"
    return json.loads(match.group(1))


def app_data(page: str) -> dict:
    """The JSON of a saved app page (``render.page.app_page``): state, buffer spans, answers, note."""
    match = re.search(r"<script type='application/json' id='cw-app-data'>(.*?)</script>", page, re.S)
    assert match, "the page has no app data script"
    return json.loads(match.group(1))


def app_buffer(page: str, data: dict, index: int) -> bytes:
    start, length = data["spans"][index]
    return page_bytes(page)[start : start + length]


def page_bytes(page: str) -> bytes:
    match = re.search(r"<script type='text/plain' id='cw-page-bytes'>(.*?)</script>", page, re.S)
    return zlib.decompress(base64.b64decode(match.group(1)))


def views(count: int = 3, size: tuple[int, int] = (20, 30)) -> list[PageView]:
    rng = np.random.default_rng(4)
    return [
        PageView(key=str(i), photo=rng.integers(0, 256, (*size, 3), dtype=np.uint8), levels=rng.integers(0, 256, size, dtype=np.uint8),
                 caption=f"picture {i}", status=f"status {i}")
        for i in range(count)
    ]  # fmt: skip


def test_the_bytes_hold_each_view_and_its_thumbnail():
    given = views()
    page = standalone_page("three", given, selected="1", thumb_size=16)
    data, raw = page_data(page), page_bytes(page)
    take = lambda span: np.frombuffer(raw[span[0] : span[0] + span[1]], np.uint8)  # noqa: E731
    assert data["selected"] == "1" and [item["key"] for item in data["items"]] == ["0", "1", "2"]
    for item, view in zip(data["items"], given):
        assert (item["width"], item["height"], item["caption"], item["status"]) == (30, 20, view.caption, view.status)
        np.testing.assert_array_equal(take(item["photo"]).reshape(20, 30, 3), view.photo)
        np.testing.assert_array_equal(take(item["levels"]).reshape(20, 30), view.levels)
        np.testing.assert_array_equal(take(item["thumb_photo"]).reshape(16, 16, 3), square(view.photo[None], 16)[0])
    assert len(take(data["tables"])) == 768 * len(data["colormap_names"])
    # the module travels as it ships to the notebook
    encoded = re.search(r"id='cw-module-app'>(.*?)</script>", page).group(1)
    assert base64.b64decode(encoded).decode() == app_module()


def test_no_text_of_a_view_can_leave_the_json_script():
    hostile = f"</script><script>window.cwXss=1</script>{MARKUP}&amp;"
    page = standalone_page(
        hostile,
        [
            PageView(
                key=hostile,
                photo=np.zeros((4, 4, 3), np.uint8),
                levels=np.zeros((4, 4), np.uint8),
                caption=hostile,
                status=hostile,
            )
        ],
    )
    assert hostile not in page and MARKUP not in page and "<script>window.cwXss" not in page
    assert page.count("<script") == 4  # data, bytes, the module, the host: none from the texts
    item = page_data(page)["items"][0]
    assert item["caption"] == item["status"] == item["key"] == hostile  # the texts arrive intact, as data
    assert "<title>&lt;/script&gt;" in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colormap": "rainbowish"}, "unknown colormap"),
        ({"mode": "xray"}, "unknown mode"),
        ({"opacity": 1.5}, "opacity must be from 0 to 1"),
        ({"views": "float"}, "photo must be"),
        ({"views": "levels"}, "levels must be uint8"),
        ({"views": "twins"}, "its own key"),
    ],
)
def test_bad_pages_are_refused(change, message):
    given = views(2)
    if change.get("views") == "float":
        given[0] = PageView("0", given[0].photo.astype(np.float32), given[0].levels)
    elif change.get("views") == "levels":
        given[0] = PageView("0", given[0].photo, given[0].levels[:5])
    elif change.get("views") == "twins":
        given[1] = PageView("0", given[1].photo, given[1].levels)
    options = {key: value for key, value in change.items() if key != "views"}
    with pytest.raises(ValueError, match=message):
        standalone_page("bad", given, **options)


def test_the_page_is_written_whole_under_an_html_name(tmp_path):
    with pytest.raises(ValueError, match="ending in .html"):
        write_page(tmp_path / "report.txt", "<!doctype html>")
    path = write_page(tmp_path / "deep" / "page.html", "<!doctype html><p>x</p>")
    assert path.read_text() == "<!doctype html><p>x</p>" and [p.name for p in path.parent.iterdir()] == ["page.html"]


def test_the_gallery_is_drawn_in_the_page_as_the_kernel_draws_thumbnails():
    """galleryPixels (js/standalone.js) with the overlay's composeView equals overlay_thumbnails."""
    from camwidgets.core.colormaps import colormap_table

    given = views(2)
    size = 12
    photos = np.stack([square(v.photo[None], size)[0] for v in given])
    levels = np.stack([square(v.levels[None], size)[0] for v in given])
    packed = np.concatenate([np.concatenate([p.ravel(), m.ravel()]) for p, m in zip(photos, levels)])
    step = size * size * 4
    items = [
        {"thumb_photo": [i * step, size * size * 3], "thumb_levels": [i * step + size * size * 3, size * size]}
        for i in range(2)
    ]
    encode = lambda source: "data:text/javascript;base64," + base64.b64encode(source.encode()).decode()  # noqa: E731
    standalone = asset_path("standalone.js").read_text(encoding="utf-8")
    script = (
        f"import * as o from {json.dumps(encode(app_module()))}; import * as s from {json.dumps(encode(standalone))};\n"
        f"const input = {json.dumps({'items': items, 'bytes': packed.tolist(), 'table': colormap_table('viridis').ravel().tolist()})};\n"
        f"const out = s.galleryPixels(o.composeView, input.items, Uint8Array.from(input.bytes), Uint8Array.from(input.table), 'overlay', 0.3, {size});\n"
        "process.stdout.write(JSON.stringify(Array.from(out)));"
    )
    done = subprocess.run([NODE, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    drawn = np.array(json.loads(done.stdout), np.uint8).reshape(2, size, size, 3)
    np.testing.assert_array_equal(
        drawn,
        overlay_thumbnails(
            np.stack([v.photo for v in given]), np.stack([v.levels for v in given]), size, "viridis", 0.3
        ),
    )


def test_explorer_to_html_saves_the_app_with_every_image_a_click_away(explorer, tmp_path):
    explorer.set(image=1)
    explorer.overlay.colormap, explorer.overlay.opacity, explorer.overlay.mode = "viridis", 0.7, "heatmap"
    page = explorer.to_html(tmp_path / "view.html").read_text()
    data = app_data(page)
    state, overlay, gallery = data["state"]["state"], explorer.overlay.part_id, explorer.gallery.part_id
    # the widget's own state: the same parts, opened as shown, the overlay's settings kept
    assert data["state"]["state"]["parts"] == explorer.parts and state["testid"] == "cw-explorer"
    assert (state[f"{overlay}__colormap"], state[f"{overlay}__opacity"], state[f"{overlay}__mode"]) == (
        "viridis",
        0.7,
        "heatmap",
    )
    assert state[f"{gallery}__selected"] == "1"
    # what needs the kernel is disabled; what the page can do is not
    assert (
        state[f"{explorer.controls.method.part_id}__disabled"]
        and state[f"{explorer.panels.compare.button.part_id}__disabled"]
    )
    assert not state[f"{explorer.sweep.part_id}__visible"]  # the sweep of one image would mislead on another
    # every image's current map, as the kernel would send it on a gallery click
    result = explorer.result
    picks = data["answers"][gallery]["pick"]
    assert sorted(picks) == [str(i) for i in range(len(explorer.session.images))]
    for index, answer in picks.items():
        levels = np.frombuffer(app_buffer(page, data, answer[f"{overlay}__heatmap"]["buffer"]), np.uint8)
        np.testing.assert_array_equal(levels.reshape(result.levels[int(index)].shape), result.levels[int(index)])
        assert answer[f"{overlay}__status"] == explorer.session.status_text(replace(result.state, image=int(index)))
    assert "<h2>Top classes</h2>" in page and data["note"] in page
