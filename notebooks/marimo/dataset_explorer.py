import marimo

app = marimo.App(width="full")


@app.cell
def _():
    import tempfile
    from pathlib import Path

    import marimo as mo

    import camwidgets as cw
    from camwidgets.data.shapes import ShapesDataset, preprocess
    from camwidgets.data.shapes_cnn import load_shortcut_cnn
    from camwidgets.data.shortcut import make_shortcut_shapes

    return Path, ShapesDataset, cw, load_shortcut_cnn, make_shortcut_shapes, mo, preprocess, tempfile


@app.cell
def _(Path, ShapesDataset, cw, load_shortcut_cnn, make_shortcut_shapes, mo, preprocess, tempfile):
    # 48 held-out shapes explained with the shipped classifier, then browsed: one anywidget in marimo too.
    model = load_shortcut_cnn()
    data = ShapesDataset(make_shortcut_shapes(48, seed=30, marked="shortcut"))
    out = Path(tempfile.mkdtemp(prefix="camwidgets-marimo-")) / "run"
    results = cw.explain_dataset(
        model,
        data,
        preprocess=preprocess,
        target_layers=["features.2"],
        metrics=("confidence",),
        out=out,
        progress=False,
    )
    browser = mo.ui.anywidget(cw.DatasetExplorer(results, model, data=data, preprocess=preprocess, page_size=8))
    browser
    return (browser,)


if __name__ == "__main__":
    app.run()
