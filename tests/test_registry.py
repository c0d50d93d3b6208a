"""The method registry is the single source of truth: every registered method is a public class with
the reference's constructor, in the README's list, in the CLI's help and in the explorer's menu; and
adding a method is one function plus one registry entry."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import torch

import camwidgets
from camwidgets.cams import method_class
from camwidgets.cli import methods_epilog
from camwidgets.engine.methods import METHODS, MethodSpec, register, single_capture_methods
from camwidgets.explain import parse_methods
from camwidgets.widgets.controls import method_options
from tests.conftest import Small, hook_count, import_reference, seeded

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


@pytest.mark.parametrize("name", list(METHODS))
def test_every_registered_method_is_exported_documented_and_reachable(name):
    spec = METHODS[name]
    cls = getattr(camwidgets, spec.class_name)
    assert spec.class_name in camwidgets.__all__ and cls.method == name
    assert f"`{spec.class_name}`" in README, f"README's method list lacks {spec.class_name}"
    assert parse_methods(spec.class_name) == [name] and name in methods_epilog()
    assert name in [value for _, value in method_options()]
    assert (name in single_capture_methods()) == (spec.compute is not None)
    assert cls.__doc__ == spec.doc
    positional = list(inspect.signature(cls).parameters)[3 : 3 + len(spec.positional)]
    assert positional == list(spec.positional)


def test_constructors_take_the_references_positional_parameters():
    reference = import_reference()
    compared = 0
    for spec in METHODS.values():
        theirs = getattr(reference, spec.class_name, None)
        if theirs is None:
            continue
        ours = list(inspect.signature(getattr(camwidgets, spec.class_name)).parameters)
        expected = [p for p in inspect.signature(theirs.__init__).parameters if p not in ("self", "kwargs", "args")]
        assert ours[: len(expected)] == expected, spec.class_name
        compared += 1
    assert compared >= 18


def _mean_activation(
    activations: torch.Tensor, gradients: torch.Tensor | None, eigen_smooth: bool, power: float = 1.0
) -> torch.Tensor:
    """Test method: the mean over channels of ``A ** power``."""
    return activations.clamp(min=0).pow(power).mean(dim=1)


def test_a_new_method_is_one_function_and_one_registry_entry(small_batch):
    spec = MethodSpec(
        name="meanactivation", class_name="MeanActivationCAM", family="gradient-free", needs_gradients=False, cost=1.0,
        compute=_mean_activation, summary="mean activation (test)", options={"power": 1.0},
    )  # fmt: skip
    register(spec)
    try:
        cls = method_class("meanactivation")
        model = seeded(Small)
        squared = cls(model, ["head_conv"], None, 2.0)(small_batch)  # the option, positionally
        assert squared.shape == (3, 16, 16) and cls(model, ["head_conv"], power=2.0).power == 2.0
        assert not np.allclose(squared, cls(model, ["head_conv"])(small_batch))
        assert "meanactivation" in single_capture_methods() and "meanactivation" in methods_epilog()
        assert ("MeanActivationCAM — gradient-free", "meanactivation") in method_options()
        explorer = camwidgets.CAMExplorer(model, small_batch)
        explorer.set(method="meanactivation")
        np.testing.assert_allclose(explorer.result.maps, cls(model, [explorer.state.layers[0]])(small_batch), atol=1e-6)
        with pytest.raises(TypeError, match="unknown option 'powr'. Did you mean 'power'"):
            camwidgets.Explainer(model, ["head_conv"]).compute("meanactivation", small_batch, options={"powr": 3})
        assert hook_count(model) == 0
    finally:
        METHODS.pop("meanactivation")
