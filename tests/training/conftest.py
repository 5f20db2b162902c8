"""Fixtures shared by the training layer's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture
def restore_threads() -> Iterator[None]:
    """Tests that change torch's thread count hand the process back as they found it."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)
