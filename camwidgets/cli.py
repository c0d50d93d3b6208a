"""Command line: ``python -m camwidgets explain [IMAGE] [options]``, ``python -m camwidgets
explain-dataset FOLDER --out DIR [options]`` and ``python -m camwidgets migrate PATH... [--write]``
(also installed as ``camwidgets``).

Argument parsing only; the work is done by :mod:`camwidgets.explain`, :mod:`camwidgets.render.grid`,
:mod:`camwidgets.dataset` and :mod:`camwidgets.compat.migrate`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .compat.migrate import run
from .dataset import explain_dataset
from .engine import FAMILIES, METHODS, single_capture_methods
from .explain import DEFAULT_METHODS, explain_photo, load_image, parse_methods, resolve_class
from .pretrained import cached_weights, class_names, load_model, offline_advice
from .render.grid import save_figure

__all__ = ["main", "build_parser", "UsageError"]

DEFAULT_IMAGE = "chelsea"
DEFAULT_MODEL = "mobilenet_v2"


class UsageError(Exception):
    """A problem with the command's arguments; reported as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:

    parser = argparse.ArgumentParser(
        prog="python -m camwidgets",
        description="Class activation maps for PyTorch vision models.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    explain = commands.add_parser(
        "explain",
        help="explain a photo with a pretrained classifier and write a PNG grid",
        description=(
            "Classify IMAGE with a pretrained torchvision model, print the top-5 classes, and write a PNG with "
            "the photo and one class activation map per method (all from one forward/backward pass)."
        ),
        epilog=methods_epilog()
        + (
            "\n\nexample:\n  python -m camwidgets explain astronaut --method all --target 'football helmet' --out out/helmet.png"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    explain.add_argument(
        "image",
        nargs="?",
        default=DEFAULT_IMAGE,
        help=f"image file (PNG/JPEG) or bundled photo name: astronaut, chelsea, coffee, rocket (default: {DEFAULT_IMAGE})",
    )
    explain.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"torchvision classification model (default: {DEFAULT_MODEL})"
    )
    explain.add_argument(
        "--method",
        action="append",
        metavar="NAME",
        help=f"CAM method, repeatable or comma separated (default: {','.join(DEFAULT_METHODS)}); 'all' for every single-capture method",
    )
    explain.add_argument("--layer", help="module name to explain, as in model.named_modules() (default: suggested)")
    explain.add_argument(
        "--target", help="class index or name, case-insensitive, unique prefix ok (default: top class)"
    )
    explain.add_argument("--out", type=Path, help="PNG to write (default: out/<image>_<model>.png)")
    explain.add_argument(
        "--download",
        action="store_true",
        help="fetch the model's weights from the internet when they are not in torch's cache",
    )
    dataset = commands.add_parser(
        "explain-dataset",
        help="explain every image of a folder (subfolders as classes) into a table, maps and a manifest",
        description=(
            "Run explain_dataset over FOLDER with a pretrained torchvision classifier: OUT gets table.parquet (one row per "
            "image: prediction, confidence, metrics, errors), maps.zarr and manifest.json. An interrupted run resumes. "
            "Launched by torchrun, each process takes its share of the chunks."
        ),
        epilog="examples:\n  python -m camwidgets explain-dataset photos/ --out out/photos\n"
        "  torchrun --standalone --nproc_per_node=2 -m camwidgets explain-dataset photos/ --out out/photos",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dataset.add_argument(
        "folder", type=Path, help="folder of PNG/JPEG images; subfolders are the classes, in sorted order"
    )
    dataset.add_argument("--out", type=Path, required=True, help="folder for the results")
    dataset.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"torchvision classification model (default: {DEFAULT_MODEL})"
    )
    dataset.add_argument("--method", default="gradcam", help="CAM method (default: gradcam)")
    dataset.add_argument("--layer", help="module name to explain (default: suggested)")
    dataset.add_argument(
        "--targets",
        choices=("predicted", "label"),
        default="predicted",
        help="class explained per image (default: predicted)",
    )
    dataset.add_argument(
        "--metrics",
        default="confidence",
        help="comma separated: confidence, drop, deletion, insertion (default: confidence)",
    )
    dataset.add_argument("--batch-size", type=int, default=32, help="images per batch (default: 32)")
    dataset.add_argument("--workers", type=int, default=0, help="DataLoader processes decoding images (default: 0)")
    dataset.add_argument(
        "--no-resume", action="store_true", help="start again instead of skipping the chunks an earlier run finished"
    )
    dataset.add_argument(
        "--download",
        action="store_true",
        help="fetch the model's weights from the internet when they are not in torch's cache",
    )
    migrate = commands.add_parser(
        "migrate",
        help="rewrite scripts and notebooks written for pytorch-grad-cam to use camwidgets",
        description=(
            "Rewrite the pytorch_grad_cam imports of Python files and notebooks (folders: every .py and .ipynb in them) "
            "to camwidgets, through their syntax trees; print the diff, and with --write apply it. "
            "Anything that could not be mapped is listed and left as it is."
        ),
    )
    migrate.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="Python file, notebook or folder")
    migrate.add_argument(
        "--write", action="store_true", help="rewrite the files in place (default: only print the diff)"
    )
    return parser


def methods_epilog() -> str:
    """Every registered method by family (from the registry), slow ones starred, and what 'all' means."""
    import textwrap

    lines = ["methods (registry names; class names such as GradCAMPlusPlus work too; * slow: many forwards per image):"]
    for family in FAMILIES:
        names = ", ".join(
            f"{spec.name}{'*' if spec.slow else ''}" for spec in METHODS.values() if spec.family == family
        )
        lines += textwrap.wrap(f"{family}: {names}", width=100, initial_indent="  ", subsequent_indent="    ")
    lines += textwrap.wrap(
        f"'all': {', '.join(single_capture_methods())} (one forward and backward for all)",
        width=100,
        initial_indent="  ",
        subsequent_indent="    ",
    )
    return "\n".join(lines)


def _check_model_name(name: str) -> None:
    import torchvision

    available = torchvision.models.list_models(module=torchvision.models)
    if name not in available:
        import difflib

        close = difflib.get_close_matches(name.lower(), available, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UsageError(
            f"unknown model {name!r}.{hint} Pass a torchvision classification model such as mobilenet_v2 or resnet18"
        )


def _load_model(name: str, download: bool):
    """The pretrained model and its weights; without ``download``, only from torch's cache (a
    UsageError naming the models that have weights here, before any network use)."""

    if not download and not cached_weights(name):
        raise UsageError(offline_advice(name))
    return load_model(name)


def _explain(args: argparse.Namespace) -> int:

    chosen = args.method
    if chosen and any(part.strip().lower() == "all" for item in chosen for part in item.split(",")):
        chosen = single_capture_methods()
    try:
        methods = parse_methods(chosen)
    except ValueError as error:
        raise UsageError(f"{error}. Pass --method with one or more of these, comma separated") from None
    try:
        photo, image_name = load_image(args.image)
    except ValueError as error:
        raise UsageError(str(error)) from None

    _check_model_name(args.model)
    try:
        model, weights = _load_model(args.model, args.download)
    except RuntimeError as error:  # weights missing offline: the message says where to put them
        print(f"error: {error}".replace("\n", " "), file=sys.stderr)
        return 1
    labels = class_names(weights)
    try:
        target = None if args.target is None else resolve_class(args.target, labels)
    except ValueError as error:
        raise UsageError(str(error)) from None
    try:
        result = explain_photo(
            model, weights, photo, methods, layer=args.layer, target=target, name=f"{image_name}, {args.model}"
        )
    except ValueError as error:
        if args.layer is None:
            raise
        # An unknown layer, or one without a spatial output (such as the classifier).
        raise UsageError(f"{str(error).rstrip('.')}. Leave out --layer to use the suggested one") from None

    out = args.out if args.out is not None else Path("out") / f"{image_name}_{args.model}.png"
    written = save_figure(result.figure, out)

    how = "suggested; choose another with --layer" if result.layer_suggested else "chosen"
    print(f"model: {args.model} ({weights.name})   image: {args.image}")
    print(f"layer: {result.layer} ({how})")
    print("top-5 classes:")
    for rank, (name, probability) in enumerate(result.top, 1):
        print(f"  {rank}. {name:<24} {probability:6.1%}")
    print(f"target: {result.target_name} ({result.target_index})")
    print(f"methods: {', '.join(methods)}")
    print(f"wrote {written}")
    return 0


def _explain_dataset(args: argparse.Namespace) -> int:

    _check_model_name(args.model)
    if not args.folder.is_dir():
        raise UsageError(f"{str(args.folder)!r} is not a folder; pass a folder of images (subfolders as classes)")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {str(args.out)!r} is a file; pass a folder for the results (it is made if missing)")
    model, weights = _load_model(args.model, args.download)
    try:
        results = explain_dataset(
            model, args.folder, out=args.out, method=args.method, target_layers=[args.layer] if args.layer else None,
            targets=args.targets, metrics=[m.strip() for m in args.metrics.split(",") if m.strip()], batch_size=args.batch_size,
            num_workers=args.workers, resume=not args.no_resume, preprocess=weights,
        )  # fmt: skip
    except (ValueError, TypeError, KeyError) as error:
        raise UsageError(str(error)) from None
    if results is not None:  # rank 0
        table = results.table
        print(f"{len(table)} images, {int((table['error'] != '').sum())} failed; wrote {results.out}")
    return 0


def _migrate(args: argparse.Namespace) -> int:

    try:
        return run(args.paths, args.write, sys.stdout)
    except FileNotFoundError as error:
        raise UsageError(str(error)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help (0) or a malformed command line (2, message already printed)
        return stop.code if isinstance(stop.code, int) else 2
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "migrate":
            return _migrate(args)
        if args.command == "explain-dataset":
            return _explain_dataset(args)
        return _explain(args)
    except UsageError as error:
        print(f"error: {error}".replace("\n", " "), file=sys.stderr)
        return 2
    except RuntimeError as error:  # another run holds the out folder, or its files are damaged
        print(f"error: {error}".replace("\n", " "), file=sys.stderr)
        return 1
    except OSError as error:  # a folder or file that cannot be written (read-only, full, a file in the way)
        where = f" {error.filename}" if error.filename else ""
        print(f"error: could not write{where}: {error.strerror or error}; choose another --out", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
