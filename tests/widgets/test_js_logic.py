"""The ES modules' pure functions, run under Node (no browser): the overlay formula agrees with the
kernel's PNG export bit for bit, and the layer tree's visible rows follow expansion and filtering."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess

import numpy as np
import pytest

from camwidgets.core.assets import app_module
from camwidgets.core.colormaps import MODES, colormap_table, compose_view

NODE = shutil.which("node")


@pytest.fixture(autouse=True)
def _node_is_installed() -> None:
    """Fail, not skip, without Node.js: `make install` installs Debian's nodejs when it is missing."""
    assert NODE is not None, (
        "Node.js runs the ES modules outside a browser; install it with `make install` (apt-get install nodejs)"
    )


def run_module(module: str, body: str, payload: object) -> object:
    """Import the one ES module as shipped (``js/<module>`` is one of the files it joins) in Node, run
    ``body`` with ``input`` bound to ``payload``, return its ``output``."""
    source = base64.b64encode(app_module().encode()).decode()
    script = (
        f"import * as m from {json.dumps('data:text/javascript;base64,' + source)};\n"
        "let data = ''; process.stdin.on('data', (c) => (data += c)); process.stdin.on('end', () => {\n"
        f"  const input = JSON.parse(data); let output; {body}\n"
        "  process.stdout.write(JSON.stringify(output)); });\n"
    )
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", script],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_overlay_formula_matches_the_export():
    generator = np.random.default_rng(0)
    photo = generator.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    levels = generator.integers(0, 256, (5, 7), dtype=np.uint8)
    table = colormap_table("turbo")
    payload = {"photo": photo.ravel().tolist(), "levels": levels.ravel().tolist(), "table": table.ravel().tolist()}
    for mode in MODES:
        for opacity in (0.0, 0.35, 1.0):
            body = (
                "const rgba = m.composeView(Uint8Array.from(input.photo), Uint8Array.from(input.levels), "
                f"Uint8Array.from(input.table), {json.dumps(mode)}, {opacity}, 7, 5); output = Array.from(rgba);"
            )
            rgba = np.array(run_module("overlay.js", body, payload), dtype=np.uint8).reshape(5, 7, 4)
            assert (rgba[..., 3] == 255).all()
            np.testing.assert_array_equal(
                rgba[..., :3], compose_view(photo, levels, "turbo", opacity, mode), err_msg=f"{mode} {opacity}"
            )


def test_readout_and_bytes_helpers():
    body = (
        "output = [m.levelToValue(255, [-2, 6]), m.levelToValue(0, [-2, 6]), m.levelToValue(51, []),"
        " Array.from(m.asBytes(new DataView(Uint8Array.from([1, 2, 3]).buffer, 1, 2))), m.asBytes(null).length];"
    )
    assert run_module("overlay.js", body, {}) == [6, -2, 0.2, [2, 3], 0]


def test_zoom_keeps_the_point_under_the_pointer_and_the_picture_covering_the_viewport():
    body = (
        "const a = m.zoomAbout({zoom: 1, x: 0, y: 0}, 2, 100, 50, 400, 300);"
        "const b = m.zoomAbout(a, 4, 390, 290, 400, 300);"
        "output = [a, b, m.zoomAbout(b, 100, 0, 0, 400, 300).zoom, m.zoomAbout(a, 0.1, 10, 10, 400, 300),"
        " m.clampView({zoom: 2, x: 50, y: -900}, 400, 300), m.clampView({zoom: NaN, x: 5, y: 5}, 400, 300)];"
    )
    a, b, most, out, clamped, broken = run_module("overlay.js", body, {})
    assert a == {"zoom": 2, "x": -100, "y": -50}  # (100, 50) stays under the pointer: (100 - x) / zoom == 100
    assert b["zoom"] == 8 and (390 - b["x"]) / 8 == (390 - a["x"]) / 2 and (290 - b["y"]) / 8 == (290 - a["y"]) / 2
    assert most == 16  # MAX_ZOOM
    assert out == {"zoom": 1, "x": 0, "y": 0}  # never smaller than the viewport
    assert clamped == {"zoom": 2, "x": 0, "y": -300}  # panned no further than the picture's edges
    assert broken == {"zoom": 1, "x": 0, "y": 0}


NODES = [
    {"path": "", "parent": None, "type": "Net", "children": 2},
    {"path": "features", "parent": "", "type": "Sequential", "children": 2},
    {"path": "features.0", "parent": "features", "type": "Conv2d", "children": 0},
    {"path": "features.1", "parent": "features", "type": "ReLU", "children": 0},
    {"path": "head", "parent": "", "type": "Linear", "children": 0},
]


def test_tree_rows_follow_expansion_and_filter():
    body = (
        "const rows = (open, filter) => m.visibleRows(input, new Set(open), filter).map((n) => n.path);"
        "output = [rows([], ''), rows(['features'], ''), rows([], 'relu'), rows([], 'HEAD'), rows([], 'zzz'),"
        " [...m.initialExpanded(input, ['features.1'])]];"
    )
    collapsed, expanded, relu, head, nothing, initial = run_module("layer_tree.js", body, NODES)
    assert collapsed == ["features", "head"]
    assert expanded == ["features", "features.0", "features.1", "head"]
    assert relu == ["features", "features.1"]  # a match keeps its ancestors
    assert head == ["head"] and nothing == [] and initial == ["features"]


def test_thumbnail_pixels_unpack():
    body = "output = Array.from(m.pictureRGBA(Uint8Array.from(input), 1, 1));"
    assert run_module("thumbnails.js", body, [1, 2, 3, 4, 5, 6]) == [4, 5, 6, 255]


def test_a_dragged_rectangle_is_sent_as_the_kernel_checks_it():
    """The overlay's drag gives whole-pixel rectangles inside the image, either way round, that the
    kernel's ``check_region`` accepts unchanged; a click (under 2 pixels) gives none."""
    from camwidgets.explorer.tasks import check_region

    drags = [[{"x": 10.4, "y": 5.6}, {"x": 40.2, "y": 30.9}], [{"x": 40, "y": 30}, {"x": 10, "y": 5}],
             [{"x": -20, "y": -3}, {"x": 300, "y": 90}], [{"x": 5, "y": 5}, {"x": 6.2, "y": 40}]]  # fmt: skip
    body = "output = input.map(([a, b]) => m.dragRectangle(a, b, 224, 64)); output.push(m.polygonPoints([1, 2, 3.5, 4, 9]));"
    *rectangles, points = run_module("overlay.js", body, drags)
    assert rectangles == [[10, 6, 40, 31], [10, 5, 40, 30], [0, 0, 224, 64], None]
    for rectangle in rectangles[:3]:
        assert list(check_region(rectangle, 224, 64)) == rectangle
    assert points == "1,2 3.5,4"


def test_box_labels_avoid_each_other_and_the_chosen_box_is_labelled_first():
    boxes = [
        {"index": 0, "box": [10, 40, 60, 90], "label": "dog 0.91", "chosen": False},
        {"index": 1, "box": [12, 41, 58, 88], "label": "cat 0.40", "chosen": True},  # nearly the same box
        {"index": 2, "box": [11, 42, 59, 89], "label": "cow 0.06", "chosen": False},
        {"index": 3, "box": [150, 10, 190, 50], "label": "bird 0.80", "chosen": False},
    ]
    body = (
        "const placed = m.placeLabels(input.boxes, 8, 200, 100);"
        "output = Object.fromEntries([...placed].map(([k, v]) => [k, [v.x, v.y]]));"
    )
    placed = {int(k): v for k, v in run_module("overlay.js", body, {"boxes": boxes}).items()}
    assert 1 in placed and 3 in placed  # the chosen box always, the distant one too
    rectangles = [(x, y - 8, x + len(boxes[i]["label"]) * 8 * 0.6, y) for i, (x, y) in placed.items()]
    for a in range(len(rectangles)):
        for b in range(a + 1, len(rectangles)):
            r, s = rectangles[a], rectangles[b]
            assert not (r[0] < s[2] and s[0] < r[2] and r[1] < s[3] and s[1] < r[3]), "two labels overlap"
    assert all(x >= 0 and y <= 100 for x, y in placed.values())
    assert len(placed) < len(boxes) or len({y for _, y in placed.values()}) > 1  # piled labels moved or left out


def test_volume_planes_windowing_and_frame_energy_match_the_python_side():
    """js/spacetime.js draws slices, projections, windowed intensities and per-frame energy in the
    browser: the same numbers as numpy and camwidgets.core.samples.windowed."""
    from camwidgets.core.samples import windowed

    generator = np.random.default_rng(1)
    volume = generator.normal(size=(3, 4, 5)).astype(np.float32)
    levels = generator.integers(0, 256, (3, 4, 5), dtype=np.uint8)
    body = (
        "const v = Float32Array.from(input.volume), l = Uint8Array.from(input.levels), s = [3, 4, 5];"
        "output = [0, 1, 2].map((axis) => [1, 2].map((i) => Array.from(m.volumePlane(v, s, axis, i).values)))"
        "  .concat([[0, 1, 2].map((axis) => Array.from(m.volumePlane(l, s, axis, 0, true).values))])"
        "  .concat([[Array.from(m.windowedRGB(v, 0.2, 1.5))], [m.frameEnergy(l, 3)]]);"
    )
    *slices, projections, (rgb,), (energy,) = run_module(
        "spacetime.js", body, {"volume": volume.ravel().tolist(), "levels": levels.ravel().tolist()}
    )
    for axis, (first, second) in enumerate(slices):
        for index, plane in ((1, first), (2, second)):
            np.testing.assert_allclose(
                np.array(plane).reshape(np.take(volume, index, axis=axis).shape),
                np.take(volume, index, axis=axis),
                rtol=1e-6,
            )
    for axis, projection in enumerate(projections):
        np.testing.assert_array_equal(np.array(projection).reshape(levels.max(axis=axis).shape), levels.max(axis=axis))
    np.testing.assert_array_equal(np.array(rgb).reshape(-1, 3)[:, 0], windowed(volume, 0.2, 1.5).ravel())
    sums = levels.reshape(3, -1).sum(axis=1)
    np.testing.assert_allclose(energy, sums / sums.max(), rtol=1e-12)


def test_slices_are_drawn_at_their_physical_aspect():
    body = "output = [0, 1, 2].map((axis) => m.sliceAspect([10, 20, 30], [2.5, 1, 1.5], axis));"
    axial, coronal, sagittal = run_module("spacetime.js", body, {})
    assert (
        axial == [45, 20] and coronal == [45, 25] and sagittal == [20, 25]
    )  # (w x sw, h x sh), (w x sw, d x sd), (h x sh, d x sd)


def test_signal_line_points_span_the_plot():
    body = "output = m.linePoints([0, 2, 1, 4, 3], 1, 4, 101, 54);"
    points = run_module("spacetime.js", body, {})
    assert [x for x, _ in points] == [0, 50, 100]
    assert points[1][1] == pytest.approx(52) and points[2][1] == pytest.approx(
        2
    )  # the lowest sample at the bottom, the highest at the top
