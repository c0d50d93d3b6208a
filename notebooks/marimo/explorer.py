import marimo

app = marimo.App(width="full")


@app.cell
def _():
    import marimo as mo

    import camwidgets as cw
    from camwidgets.pretrained import load_model

    return cw, load_model, mo


@app.cell
def _(cw, load_model, mo):
    # The explorer is one anywidget, so marimo shows it as it shows any other.
    model, weights = load_model("mobilenet_v2")
    explorer = mo.ui.anywidget(cw.CAMExplorer(model, ["chelsea", "coffee"], labels=weights))
    explorer
    return (explorer,)


if __name__ == "__main__":
    app.run()
