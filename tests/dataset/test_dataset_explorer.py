"""DatasetExplorer over a finished run: pages of stored thumbnails, sorting and filters, the
confusion matrix, one row shown large, and a row opened in CAMExplorer."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from camwidgets.core.pictures import overlay_thumbnails
from camwidgets.explorer.dataset_view import DatasetExplorer

from ..widgets.conftest import send_custom, send_update
from .common import ROWS, model, preprocess


@pytest.fixture
def browser(finished):
    return DatasetExplorer(finished, model(), preprocess=preprocess, page_size=6)


def test_a_page_of_stored_thumbnails_sorted_lowest_confidence_first(browser, finished):
    table = finished.table
    expected = table.sort_values("confidence", kind="stable", na_position="last")["id"].head(6).tolist()
    assert browser.gallery.item_keys == [str(i) for i in expected]
    ids = np.array(expected)
    pictures = overlay_thumbnails(
        finished.photos.get_orthogonal_selection((ids,)), finished.maps.get_orthogonal_selection((ids,)), 64
    )
    assert browser.gallery.pixels == pictures.tobytes()  # the stored photos and maps: nothing recomputed
    assert "rows 1–6 of 16 (of 16), lowest confidence first · page 1 of 3" in browser.summary.value
    browser.turn(1)
    assert browser.gallery.item_keys == [
        str(i) for i in table.sort_values("confidence", kind="stable", na_position="last")["id"].iloc[6:12]
    ]
    browser.turn(5)
    assert browser.page == 2 and len(browser.gallery.item_keys) == ROWS - 12 and browser.next.disabled
    browser.descending.value = True
    assert browser.page == 0 and browser.gallery.item_keys[0] == str(int(table.loc[table["confidence"].idxmax(), "id"]))
    assert bytes(browser.histogram.value).startswith(b"\x89PNG")


def test_filters_and_the_confusion_matrix_choose_rows(browser, finished):
    table = finished.table
    browser.filter(shown="failed")
    assert sorted(browser.gallery.item_keys) == sorted(str(i) for i in table.loc[table["error"] != "", "id"])
    browser.filter(shown="misclassified")
    wrong = table[(table["error"] == "") & ~table["correct"]]
    assert {int(k) for k in browser.gallery.item_keys} <= set(
        wrong["id"]
    ) and f"of {len(wrong)} (of {ROWS})" in browser.summary.value
    browser.filter(shown="all rows")
    cell = browser.confusion_buttons[(0, 1)]
    assert cell.description == str(
        int(((table["label"] == 0) & (table["predicted"] == 1) & (table["error"] == "")).sum())
    )
    cell.click()
    shown = table[table["id"].isin([int(k) for k in browser.gallery.item_keys])]
    assert (shown["label"] == 0).all() and (shown["predicted"] == 1).all() and browser.label.value == 0
    browser.filter(label=None, predicted=None)
    low, high = browser.range.value
    browser.range.value = (low, low + (high - low) / 2)
    kept = table[table["id"].isin([int(k) for k in browser.gallery.item_keys])]
    assert (kept["confidence"] <= low + (high - low) / 2 + 1e-6).all()


def test_a_click_on_a_histogram_bar_keeps_that_bar_s_rows(browser, finished):
    assert browser.hint.visible and not browser.detail.visible and browser.histogram.clickable
    (left, right), (low, high), edges = browser._histogram_axes
    values = finished.table["confidence"].astype(float).to_numpy()
    top = int(np.argmax(np.histogram(values[np.isfinite(values)], bins=edges)[0]))  # the tallest bar
    middle = (edges[top] + edges[top + 1]) / 2
    send_custom(
        browser.histogram,
        {"type": "click", "id": 1, "x": left + (middle - low) / (high - low) * (right - left), "y": 0.5},
    )
    assert browser.range.value == pytest.approx([edges[top], edges[top + 1]])
    kept = finished.table[finished.table["id"].isin([int(k) for k in browser.gallery.item_keys])]
    scored = kept["confidence"].dropna()  # failed rows, which have no value, stay in every range
    assert len(scored) and scored.between(edges[top] - 1e-6, edges[top + 1] + 1e-6).all()
    send_custom(browser.histogram, {"type": "click", "id": 2, "x": 0.0, "y": 0.5})  # the axis labels, not a bar
    assert browser.range.value == pytest.approx([edges[top], edges[top + 1]])  # refused: nothing changed
    with pytest.raises(ValueError, match="click a bar"):
        browser._histogram_clicked(0.0, 0.5)


def test_a_clicked_thumbnail_shows_large_and_opens_in_the_explorer(browser, finished):
    key = browser.gallery.item_keys[0]
    send_custom(browser.gallery, {"type": "pick", "id": 1, "key": key})  # what a click sends
    row = int(key)
    np.testing.assert_array_equal(browser.overlay.levels(), np.asarray(finished.maps[row]))
    assert browser.overlay.status.startswith(f"#{row} ") and finished.table.iloc[row]["path"] in browser.details.value
    details = html.unescape(browser.details.value)
    assert re.search(r"confidence: \d\.\d\d\d?( |$)", details) and "error: ·" not in details and " (" in details
    assert browser.detail.visible and not browser.hint.visible  # before a click: a hint, not an empty picture
    send_update(browser.overlay, colormap="viridis", opacity=0.8)  # applied in the browser
    assert browser.overlay.colormap == "viridis"
    good = int(finished.table.loc[finished.table["error"] == "", "id"].iloc[0])
    browser.show_row(good)
    explorer = browser.open_in_explorer()
    assert explorer.state.layers == ("head_conv",) and explorer.session.labels == ["circle", "square"]
    assert int(np.argmax(explorer.session.probabilities[0])) == int(finished.table.iloc[good]["predicted"])
    with pytest.raises(ValueError, match="pass DatasetExplorer"):
        DatasetExplorer(finished).open_in_explorer(good)


def test_the_report_of_the_selection_is_one_self_contained_escaped_file(browser, finished, tmp_path):
    import html

    from tests.conftest import MARKUP
    from tests.widgets.test_standalone import page_data

    browser.filter(shown="misclassified")
    selected = browser.selection()
    browser.results.manifest["classes"] = [MARKUP, "square"]  # markup in a class name stays text
    try:
        path = browser.save_report(tmp_path / "report" / "misclassified.html")
    finally:
        browser.results.manifest["classes"] = ["circle", "square"]
    page = path.read_text()
    assert page.startswith("<!doctype html>") and "src='http" not in page and 'src="http' not in page  # nothing fetched
    data = page_data(page)
    assert [int(item["key"]) for item in data["items"]] == selected["id"].head(48).tolist()
    assert MARKUP not in page and html.escape(MARKUP) in page  # the confusion matrix escapes; the JSON has no '<' left
    for item in data["items"]:  # misclassified between two classes: the markup class is the true or the predicted one
        assert item["caption"].startswith(f"#{item['key']} ") and (
            MARKUP in item["status"] or "error:" in item["status"]
        )
    labelled = finished.table[(finished.table["error"] == "") & (finished.table["label"] >= 0)]
    assert f"accuracy: {labelled['correct'].mean():.1%} of {len(labelled)} labelled images" in page
    assert "<h2>Confusion matrix</h2>" in page and f"failed rows: {finished.manifest['failed']}" in page


def test_a_row_of_a_dataset_opens_in_the_explorer_with_its_own_photo(tmp_path):
    """With data=, the explorer gets the row's image as the dataset gives it and the run's
    preprocessing, so its photo is the image itself (not a normalised tensor drawn as a photo)."""
    from camwidgets import explain_dataset
    from camwidgets.data.shapes import ShapesDataset, make_shapes, preprocess
    from camwidgets.data.shapes_cnn import load_shapes_cnn

    data, model = ShapesDataset(make_shapes(6, seed=9)), load_shapes_cnn()
    results = explain_dataset(model, data, preprocess=preprocess, out=tmp_path / "out", progress=False, batch_size=6)
    explorer = DatasetExplorer(results, model, data=data, preprocess=preprocess).open_in_explorer(2)
    np.testing.assert_array_equal(explorer.session.images.photos[0], data[2]["image"])
    assert int(np.argmax(explorer.session.probabilities[0])) == int(results.table.iloc[2]["predicted"])
