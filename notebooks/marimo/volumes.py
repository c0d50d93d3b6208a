import marimo

app = marimo.App(width="full")


@app.cell
def _():
    import marimo as mo

    import camwidgets as cw
    from camwidgets.data.solids import make_solids
    from camwidgets.data.spacetime_models import load_solids_cnn

    return cw, load_solids_cnn, make_solids, mo


@app.cell
def _(cw, load_solids_cnn, make_solids, mo):
    # Three orthogonal slices of each scan with the map; slices change in the page, from the volume sent once.
    model, classes = load_solids_cnn()
    scans = list(make_solids(2, seed=3).volumes)
    explorer = mo.ui.anywidget(cw.CAMExplorer(model, scans, labels=classes, task="multilabel"))
    explorer
    return (explorer,)


if __name__ == "__main__":
    app.run()
