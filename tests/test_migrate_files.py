"""migrate --write loses nothing: positions are counted as the parser counts them, files are replaced
whole or not at all, a file that cannot be migrated is listed while the others go on, line endings,
byte-order marks and notebook indentation are kept, and links out of the folder are not followed."""

from __future__ import annotations

import ast
import json
import os
import random
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from camwidgets.cli import main
from camwidgets.compat.migrate import migrate_source

#: Characters that ``str.splitlines`` takes for line breaks and Python's parser does not.
NOT_LINE_BREAKS = ("\x0c", "\u2028", "\u2029", "\x85", "\x1c", "\x1d", "\x1e", "\x0b")


def without_imports(source: str) -> str:
    """The syntax tree of ``source`` without its import statements and ``use_cuda`` keywords, with the
    package name unified."""
    tree = ast.parse(source.lstrip("\ufeff"))
    tree.body = [node for node in tree.body if not isinstance(node, (ast.Import, ast.ImportFrom))]
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            node.keywords = [keyword for keyword in node.keywords if keyword.arg != "use_cuda"]
    return ast.dump(tree).replace("pytorch_grad_cam", "camwidgets")


def imports_of(source: str) -> list[str]:
    tree = ast.parse(source.lstrip("\ufeff"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append(node.module or "")
    return found


def random_source(rng: random.Random) -> str:
    """A small script for pytorch-grad-cam with odd whitespace: mixed line endings, form feeds on
    their own lines, the characters of NOT_LINE_BREAKS in comments and strings, non-ASCII names."""
    ending = lambda: rng.choice(["\n", "\r\n", "\r"])  # noqa: E731
    odd = lambda: "".join(rng.choice(NOT_LINE_BREAKS) for _ in range(rng.randint(1, 3)))  # noqa: E731
    lines = []
    for _ in range(rng.randint(0, 3)):
        lines.append(rng.choice([f"# comment {odd()} é", "\x0c", f"x_{rng.randint(0, 9)} = '{odd()}'", "π = 3.14"]))
    lines.append(
        rng.choice(
            [
                "import pytorch_grad_cam",
                "from pytorch_grad_cam import GradCAM, ScoreCAM",
                "import pytorch_grad_cam as pgc",
            ]
        )
    )
    lines.append(rng.choice(["from pytorch_grad_cam.utils.image import show_cam_on_image", f"# {odd()}", "\x0c"]))
    lines.append("")
    call = rng.choice(["pytorch_grad_cam.GradCAM", "GradCAM", "pgc.GradCAM"])
    lines.append(f"cam = {call}(model=m,{ending()}    target_layers=[l],  # {odd()},{ending()}    use_cuda=True)")
    lines.append(rng.choice(["f(use_cuda=False, a=1)", "f(a, use_cuda=True)", "f((a),  use_cuda=True , b=2)"]))
    lines.append(f"s = '''{odd()}{ending()}{odd()}'''")
    return ending().join(lines) + ending()


def test_migrate_counts_positions_as_the_parser_does(tmp_path):
    script = tmp_path / "a.py"
    script.write_bytes(b"\x0c\nimport pytorch_grad_cam\ncam = pytorch_grad_cam.GradCAM(model=m, target_layers=[l])\n")
    assert main(["migrate", str(script), "--write"]) == 0
    assert script.read_bytes() == b"\x0c\nimport camwidgets\ncam = camwidgets.GradCAM(model=m, target_layers=[l])\n"
    for odd in NOT_LINE_BREAKS:
        source = f"# before {odd} the imports\nfrom pytorch_grad_cam import GradCAM\nx = 'a{odd}b'\ncam = GradCAM(model=m, target_layers=[l], use_cuda=True)\n"
        text = migrate_source(source).text
        assert text == source.replace("from pytorch_grad_cam", "from camwidgets").replace(", use_cuda=True", ""), repr(
            odd
        )


def test_migrate_write_then_parse_gives_the_same_tree_apart_from_imports_on_random_sources(tmp_path):
    rng = random.Random(21)
    for case in range(150):
        source = random_source(rng)
        script = tmp_path / f"case{case}.py"
        script.write_bytes(source.encode("utf-8"))
        assert main(["migrate", str(script), "--write"]) == 0
        migrated = script.read_bytes().decode("utf-8")
        assert without_imports(migrated) == without_imports(source), repr(source)
        assert "use_cuda" not in migrated and all(name.startswith("camwidgets") for name in imports_of(migrated)), repr(
            source
        )
        assert migrated.count("\r\n") == source.count("\r\n") and migrated.count("\r") == source.count("\r"), repr(
            source
        )  # line endings kept


def test_migrate_write_leaves_the_original_whole_when_the_write_fails(tmp_path):
    script = tmp_path / "long.py"
    original = (
        "from pytorch_grad_cam import GradCAM\n" + "# filler line to make the file longer than the limit\n" * 600
    ).encode()
    script.write_bytes(original)
    notebook = tmp_path / "long.ipynb"
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": "a",
        "metadata": {},
        "outputs": [],
        "source": ["from pytorch_grad_cam import GradCAM\n"] + ["# filler\n"] * 1500,
    }
    notebook_text = json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1).encode()
    notebook.write_bytes(notebook_text)
    limit = 8 * 1024

    def small_files() -> None:  # a file-size limit, as a full disk would stop the write
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run(
        [sys.executable, "-m", "camwidgets", "migrate", "--write", str(tmp_path)],
        capture_output=True,
        text=True,
        preexec_fn=small_files,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert (
        "could not migrate" in done.stdout and "could not be written" in done.stdout and "Traceback" not in done.stderr
    )
    assert script.read_bytes() == original and notebook.read_bytes() == notebook_text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.ipynb", "long.py"]  # no temporary file left


def test_migrate_lists_what_it_cannot_migrate_and_goes_on(tmp_path):
    good = "from pytorch_grad_cam import GradCAM\n"
    code = lambda source: {"cell_type": "code", "metadata": {}, "outputs": [], "source": source}  # noqa: E731
    bad = {
        "a_no_source.ipynb": json.dumps(
            {"cells": [{"cell_type": "code", "metadata": {}}, code([good])], "nbformat": 4}
        ),
        "b_number_source.ipynb": json.dumps({"cells": [code(42), code(["x = 1\n", 7]), code([good])], "nbformat": 4}),
        "c_cell_not_dict.ipynb": json.dumps({"cells": ["print(1)", None, code(good)], "nbformat": 4}),
        "d_list.ipynb": "[1, 2]",
        "e_empty.ipynb": "",
        "f_not_json.ipynb": "{ this is not json",
    }
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "g_latin1.py").write_bytes("# café\nfrom pytorch_grad_cam import GradCAM\n".encode("latin-1"))
    (tmp_path / "h_binary.py").write_bytes(bytes(range(256)))
    readonly = tmp_path / "i_readonly.py"
    readonly.write_text(good)
    readonly.chmod(0o444)
    (tmp_path / "z_good.py").write_text(good)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    done = subprocess.run(
        [sys.executable, "-m", "camwidgets", "migrate", "--write", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    listed = done.stdout.split("could not migrate")[1]
    for name in ("d_list", "e_empty", "f_not_json", "g_latin1", "h_binary", "i_readonly"):
        assert name in listed, name
    assert "is read-only" in listed and "not UTF-8" in listed and "not a notebook" in listed
    for name in ("d_list.ipynb", "e_empty.ipynb", "f_not_json.ipynb", "g_latin1.py", "h_binary.py", "i_readonly.py"):
        assert (tmp_path / name).read_bytes() == before[name], name
    assert (
        tmp_path / "z_good.py"
    ).read_text() == "from camwidgets import GradCAM\n"  # the run went on after the bad ones
    for name in (
        "a_no_source.ipynb",
        "b_number_source.ipynb",
        "c_cell_not_dict.ipynb",
    ):  # the good cells are migrated, the odd ones kept
        cells = json.loads((tmp_path / name).read_text())["cells"]
        assert json.loads(before[name])["cells"][:-1] == cells[:-1], name
        assert "".join(cells[-1]["source"]) == "from camwidgets import GradCAM\n", name
    assert "its source is not text" in done.stdout


def test_migrate_keeps_line_endings_byte_order_marks_and_notebook_indentation(tmp_path):
    crlf = tmp_path / "crlf.py"
    crlf.write_bytes(
        b"from pytorch_grad_cam import GradCAM\r\ncam = GradCAM(model=m,\r\n  target_layers=[l], use_cuda=True)\r\n"
    )
    bom = tmp_path / "bom.py"
    bom.write_bytes(
        "\ufeff# é\nimport pytorch_grad_cam\ncam = pytorch_grad_cam.GradCAM(model=m, target_layers=[l])\n".encode(
            "utf-8"
        )
    )
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": str(i),
            "metadata": {},
            "outputs": [],
            "source": ["from pytorch_grad_cam import GradCAM\n", "x = 'é'"],
        }
        for i in range(3)
    ]
    notebook = tmp_path / "four.ipynb"
    notebook.write_text(
        json.dumps(
            {"cells": cells, "metadata": {"a": {"b": 1}}, "nbformat": 4, "nbformat_minor": 5},
            indent=4,
            ensure_ascii=False,
        )
        + "\n"
    )
    before = notebook.read_text()
    assert main(["migrate", "--write", str(tmp_path)]) == 0
    assert crlf.read_bytes() == b"from camwidgets import GradCAM\r\ncam = GradCAM(model=m,\r\n  target_layers=[l])\r\n"
    assert (
        bom.read_bytes()
        == "\ufeff# é\nimport camwidgets\ncam = camwidgets.GradCAM(model=m, target_layers=[l])\n".encode("utf-8")
    )
    after = notebook.read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert len(before.splitlines()) == len(after.splitlines()) and len(changed) == 3
    assert all(b == a.replace("pytorch_grad_cam", "camwidgets") for a, b in changed)


def test_migrate_does_not_rewrite_files_outside_the_folder_through_links(tmp_path):
    outside = tmp_path / "elsewhere.py"
    outside.write_text("from pytorch_grad_cam import GradCAM\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "mine.py").write_text("from pytorch_grad_cam import GradCAM\n")
    os.symlink(outside, project / "link.py")
    inside = project / "inside_link.py"
    os.symlink(project / "mine.py", inside)
    done = subprocess.run(
        [sys.executable, "-m", "camwidgets", "migrate", "--write", str(project)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "outside" in done.stdout.split("could not migrate")[1], done.stdout
    assert outside.read_text() == "from pytorch_grad_cam import GradCAM\n"
    assert (project / "mine.py").read_text() == "from camwidgets import GradCAM\n"
    assert inside.is_symlink() and Path(os.readlink(inside)) == project / "mine.py"  # a link inside stays a link


@pytest.mark.parametrize("odd", ["\x0c", "\u2028", "\x85", "\x1c"])
def test_migrate_from_imports_after_odd_characters_do_not_fail(odd):
    source = f"# {odd}\nfrom pytorch_grad_cam import (\n    GradCAM,\n)\n"
    assert migrate_source(source).text == f"# {odd}\nfrom camwidgets import (\n    GradCAM,\n)\n"
