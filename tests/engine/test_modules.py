"""The engine's leaf module: hooks for a while, removed whatever happens."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from camwidgets.engine.modules import forward_hooks
from tests.conftest import Small, hook_count, seeded


class Refuses(nn.Module):
    """A module that refuses forward hooks (as some wrappers do)."""

    def register_forward_hook(self, hook):
        raise RuntimeError("no hooks here")


def test_forward_hooks_are_removed_after_success_error_and_a_failed_registration():
    model = seeded(Small)
    seen = []
    with forward_hooks([(model.stem, lambda m, i, o: seen.append("stem"))]):
        model(torch.randn(1, 3, 8, 8))
    with forward_hooks([(model.fc, lambda m, i: seen.append("fc"))], pre=True):
        model(torch.randn(1, 3, 8, 8))
    assert seen == ["stem", "fc"] and hook_count(model) == 0
    with pytest.raises(ValueError, match="inside"):
        with forward_hooks([(model.stem, lambda m, i, o: None)]):
            raise ValueError("raised inside")
    model.refusing = Refuses()
    with pytest.raises(RuntimeError, match="no hooks here"):
        with forward_hooks(
            [
                (model.stem, lambda m, i, o: None),
                (model.head_conv, lambda m, i, o: None),
                (model.refusing, lambda m, i, o: None),
            ]
        ):
            pass
    assert hook_count(model) == 0
