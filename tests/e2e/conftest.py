"""End-to-end fixtures (see e2e_helpers for the client helpers)."""

from __future__ import annotations

import pytest

from e2e_helpers import DEFAULT_MODEL


@pytest.fixture(scope="session")
def model_option(request) -> dict:
    """initializationOptions naming the model: none for the embedded default, else a random model dir."""
    if (DEFAULT_MODEL / "model.safetensors").is_file():
        return {}
    return {"model": str(request.getfixturevalue("random_model_dir"))}
