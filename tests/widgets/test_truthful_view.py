"""The explorer tells the truth about what it shows: guided ReLU6 models, class-agnostic and
own-layer methods in the status line, why a layer cannot be picked, advice phrased for the widget,
a class typed by name, and a picture of the view saved with the notebook."""

from __future__ import annotations

import base64
import html
import warnings

import cv2
import numpy as np
import pytest
import torch

from camwidgets.engine.guided import guided_backprop, relu6_count
from camwidgets.explorer import CAMExplorer
from camwidgets.explorer.view import widget_advice


@pytest.fixture(scope="module")
def mobilenet_explorer(pretrained_mobilenet):
    model, _ = pretrained_mobilenet
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CAMExplorer(model, ["chelsea"])


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_relu6_models_are_guided_through_their_relu6_by_default_and_it_says_so(
    mobilenet_explorer, pretrained_mobilenet
):
    model, _ = pretrained_mobilenet
    guided = mobilenet_explorer.panels.guided
    assert relu6_count(model) == 35 and guided.relu6.value and guided.relu6.description == "guide ReLU6 too"
    guided.compute()
    assert "35 ReLU6 layers guided too" in guided.message.value
    shown = cv2.imdecode(np.frombuffer(guided.images[0].value, np.uint8), cv2.IMREAD_COLOR).astype(np.float64)
    x = mobilenet_explorer.session.images.batch[:1]
    from camwidgets.compat.preprocessing import deprocess_image

    top = mobilenet_explorer.session.top_classes(0, 1)[0][0]
    with_relu6 = deprocess_image(guided_backprop(model, x, [top], relu6=True)[0].numpy())
    without = deprocess_image(guided_backprop(model, x, [top], relu6=False)[0].numpy())
    shown_rgb = shown[:, :, ::-1]
    assert correlation(shown_rgb, with_relu6.astype(np.float64)) > 0.99
    assert correlation(shown_rgb, without.astype(np.float64)) < 0.9  # the noise the switch avoids


def test_the_status_line_says_when_a_method_ignores_the_class_or_the_layer(mobilenet_explorer):
    explorer = mobilenet_explorer
    explorer.set(method="eigencam")
    assert "class-agnostic" in explorer.status_text(explorer.state) and "top class" not in explorer.status_text(
        explorer.state
    )
    explorer.set(method="fullgrad")
    text = explorer.status_text(explorer.state)
    assert "FullGrad ignores the chosen one" in text and "features.18" not in text
    explorer.set(method="gradcam")
    assert explorer.status_text(explorer.state).startswith("GradCAM · features.18 · Egyptian cat")


def test_layers_that_cannot_be_picked_say_why(mobilenet_explorer):
    nodes = {node["path"]: node for node in mobilenet_explorer.tree.nodes}
    assert nodes["features.18"]["selectable"] and nodes["features.18"]["why"] == ""
    assert "no spatial grid" in nodes["classifier.1"]["why"] and not nodes["classifier.1"]["selectable"]
    assert "the whole model" in nodes[""]["why"]
    assert nodes["features.18"]["reading"] == "NCHW 7x7 grid"


def test_engine_advice_is_phrased_for_the_widget():
    engine = "RefineCAM needs at least two target layers ('features.18'). Pass several layers, for example [model.layer3, model.layer4]."
    assert widget_advice(engine).endswith("Ctrl-click (Cmd-click on a Mac) a second layer in the tree.")
    assert "model.layer3" not in widget_advice(engine)


def test_find_class_takes_typed_and_fuzzy_names_answers_unknown_ones_and_follows_target(mobilenet_explorer):
    explorer, controls = mobilenet_explorer, mobilenet_explorer.controls
    controls.find_class.value = "tabby"  # typed and Enter: a unique prefix
    assert explorer.state.target == 281 and controls.find_note.value == ""
    controls.find_class.value = "espresso"
    assert explorer.state.target == 967
    controls.find_class.value = "no such animal"
    assert explorer.state.target == 967 and "no class named" in controls.find_note.value
    controls.find_class.value = "tabby cat"  # fuzzy: not one class, so the closest are offered
    note = html.unescape(controls.find_note.value)  # escaped on the page
    assert "no class named 'tabby cat'" in note and "Closest: tabby (281)" in note
    assert controls.find_note.visible  # on a line of its own below the search box
    explorer.set(target=285)
    assert controls.find_class.value == "Egyptian cat (285)"
    assert controls.find_note.value == "" and not controls.find_note.visible  # stale under a new view
    explorer.set(target=None)
    assert controls.find_class.value == ""


def test_the_saved_output_carries_a_picture_of_the_view(mobilenet_explorer):
    bundle = mobilenet_explorer._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle  # (data, metadata), as anywidget gives it
    assert "application/vnd.jupyter.widget-view+json" in bundle
    picture = cv2.imdecode(np.frombuffer(base64.b64decode(bundle["image/png"]), np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[1] == 224 and picture.shape[0] > 224  # the view and its status line
    view = mobilenet_explorer.view_picture()
    assert np.abs(picture[:224, :, ::-1].astype(int) - view.astype(int)).max() <= 1
    assert (picture[230:, :, :] < 128).any()  # the status line's text


@pytest.mark.slow
def test_a_notebook_executed_and_saved_shows_the_picture_without_a_kernel(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import warnings; warnings.simplefilter('ignore')\n"
            "from camwidgets import CAMExplorer\nfrom camwidgets.pretrained import load_model\n"
            "model, _ = load_model('mobilenet_v2')\nCAMExplorer(model, ['coffee'])"
        )
    ]
    NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    path = tmp_path / "saved.ipynb"
    nbformat.write(notebook, path)
    outputs = nbformat.read(path, as_version=4).cells[0].outputs
    data = [output["data"] for output in outputs if output.get("output_type") == "execute_result"][0]
    assert "image/png" in data and "espresso" in data["text/plain"]
    assert torch.tensor(len(base64.b64decode(data["image/png"]))) > 1000


def test_compare_names_methods_as_the_main_menu_and_a_clicked_cell_opens_in_the_main_view(mobilenet_explorer):
    explorer = mobilenet_explorer
    compare = explorer.panels.compare
    assert ("GradCAMPlusPlus", "gradcam++") in compare.methods.options
    compare.methods.value = ("gradcam", "gradcam++")
    compare.by.value = "layers"
    compare.compute()
    assert compare.grid.row_labels == ["GradCAM", "GradCAMPlusPlus"] and compare.grid.message == ""
    key = [k for k in compare.grid.item_keys if k.startswith("gradcam++|")][0]
    layer = compare.grid.column_labels[int(key.split("|")[1])]
    compare.grid.selected = key  # what a click in the browser sets
    explorer.wait(30)
    assert explorer.state.method == "gradcam++" and explorer.state.layers == (layer,)
    assert explorer.overlay.status.startswith(f"GradCAMPlusPlus · {layer}")


def test_the_ranking_tab_names_methods_as_the_main_menu_shows_the_chosen_layer_first_and_no_empty_chart(
    mobilenet_explorer,
):
    ranking = mobilenet_explorer.panels.metrics
    assert ("GradCAMPlusPlus", "gradcam++") in ranking.methods.options
    assert (
        ranking.layers.options[0] == mobilenet_explorer.session.tree.suggested
    )  # the layer chosen when it opened, in sight in a six-row list
    tree = mobilenet_explorer.session.tree
    assert (
        list(ranking.layers.options[1:4]) == [stage for stage in reversed(tree.stages) if stage != tree.suggested][:3]
    )  # deepest first
    assert ranking.chart.value == b""  # no chart yet (an empty picture is not drawn: no broken-image icon)
