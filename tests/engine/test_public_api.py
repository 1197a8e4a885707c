"""engine/__init__.py: the public names where the README says they are, resolved only when used."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_engine_exports_the_public_three():
    from engine import DenoiseParams, Engine, EngineConfig
    from engine.denoise.config import EngineConfig as config
    from engine.denoise.engine import Engine as engine
    from engine.denoise.params import DenoiseParams as params

    assert (Engine, EngineConfig, DenoiseParams) == (engine, config, params)
    with pytest.raises(ImportError):
        from engine import Nothing  # noqa: F401


def test_the_torch_free_names_stay_torch_free():
    code = ("import sys; from engine import DenoiseParams; import engine.denoise.scheduler; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
