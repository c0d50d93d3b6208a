"""Text prompts in real JupyterLab and Chromium, on the shapes CLIP: a phrase typed in the Phrase box and
Enter draws its map, joins the target menu with its similarity and the row of maps; a phrase with markup
the model cannot read is answered beside the box, as text."""

from __future__ import annotations

import re

import pytest

from .explorers import explorer, explorers_notebook
from .test_task_explorer import digest, snapshot, wait_for_new_pixels, wait_for_text

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = [
    "import torch\n"
    "import camwidgets as cw\n"
    "from camwidgets.core.images import IMAGENET_MEAN, IMAGENET_STD\n"
    "from camwidgets.data.captions import make_captioned_scenes\n"
    "from camwidgets.data.shapes_clip import CLIP_LAYER\n"
    "torch.set_num_threads(1)\n"
    "scenes = make_captioned_scenes(3, seed=31)\n"
    "x = (torch.from_numpy(scenes.images) - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1)\n"
    "model, tokenizer = cw.load_shapes_clip()\n"
    "first = ' '.join(['a', scenes.objects[0][0].colour, scenes.objects[0][0].shape])\n"
    "other = next(f'a {c} {s}' for c in ('red', 'green', 'blue') for s in ('circle', 'cross') if f'a {c} {s}' != first)",
    "texts = cw.CAMExplorer(model, x, tokenizer=tokenizer, prompts=[other], target_layers=[CLIP_LAYER])\ntexts",
]


@pytest.fixture(scope="module")
def notebook(lab):
    yield from explorers_notebook(lab, "text_prompt_explorer.ipynb", CELLS, 1)


@pytest.fixture(scope="module")
def kernel(lab, notebook):
    return lab.probe(notebook)


def field(view, page, kind: str, name: str):
    label = page.locator(".cw-field-label", has_text=re.compile(f"^{name}$"))
    return view.locator(f"label.{kind}", has=label)


def test_a_typed_phrase_draws_its_map_and_joins_the_menu(notebook, kernel, screenshots):
    page = notebook.page
    view = explorer(page, 0)
    phrase = kernel.evaluate("first")
    before = digest(view)
    box = field(view, page, "cw-textbox", "Phrase").locator("input")
    box.fill(phrase)
    box.press("Enter")
    wait_for_text(view, "cw-status", f'"{phrase}" (cosine')
    wait_for_new_pixels(view, before)
    assert kernel.wait_for("texts.state.target", 1) == 1
    options = field(view, page, "cw-dropdown", "Target").locator("option").all_text_contents()
    assert any(option.startswith(f"{phrase} · cosine ") for option in options), options
    assert kernel.wait_for("len(texts.label_maps.item_keys)", 2) == 2
    assert view.get_by_test_id("cw-label-map").count() == 2
    snapshot(view, screenshots, "text-prompt")
    assert not [e for e in page.console_errors if "cw-" in e or "anywidget" in e]


def test_a_phrase_with_markup_stays_text(notebook, kernel):
    page = notebook.page
    view = explorer(page, 0)
    box = field(view, page, "cw-textbox", "Phrase").locator("input")
    box.fill("a <b>bold</b> circle")
    box.press("Enter")
    note = view.get_by_text(re.compile("is not a word the shapes CLIP knows"))
    note.wait_for(timeout=30_000)
    assert "<b>bold</b>" in note.text_content() and note.locator("b").count() == 0
    assert kernel.evaluate("texts.session.task.labels") == [kernel.evaluate("other"), kernel.evaluate("first")]
