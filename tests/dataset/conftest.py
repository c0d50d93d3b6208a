"""The shapes folder and one finished single-process run over it, shared by the dataset tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from camwidgets import explain_dataset

from .common import SETTINGS, model, write_folder


@pytest.fixture(scope="session")
def folder(tmp_path_factory) -> Path:
    return write_folder(tmp_path_factory.mktemp("shapes"))


@pytest.fixture(scope="session")
def finished(folder, tmp_path_factory):
    """The single-process run, on one thread as each torchrun process is (the same arithmetic, to the bit)."""
    out = tmp_path_factory.mktemp("run") / "out"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return explain_dataset(model(), folder, out=out, **SETTINGS)
    finally:
        torch.set_num_threads(threads)
