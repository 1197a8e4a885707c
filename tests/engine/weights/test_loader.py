"""engine.weights.loader's promise: only safetensors are read; nothing is unpickled, whatever a directory holds."""

from __future__ import annotations

import pickle
import shutil

import pytest
import torch

from engine.weights.loader import ModelDirError, load_model_dir


@pytest.fixture
def no_unpickling(monkeypatch):
    """Every way torch or the standard library unpickles, made to fail the test if it is called."""
    calls = []

    def refuse(name):
        def called(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} was called")
        return called

    for owner, name in ((torch, "load"), (pickle, "load"), (pickle, "loads"), (pickle, "Unpickler")):
        monkeypatch.setattr(owner, name, refuse(f"{owner.__name__}.{name}"))
    return calls


@pytest.mark.parametrize("weights", ["pytorch_model.bin", "model.pt", "model.ckpt"])
def test_a_directory_with_only_pickle_weights_is_refused(tmp_path, random_model_dir, no_unpickling, weights):
    model_dir = tmp_path / "pickled"
    model_dir.mkdir()
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(random_model_dir / name, model_dir / name)
    state = {"model.embed_tokens.weight": torch.zeros(2, 2)}
    with open(model_dir / weights, "wb") as out:
        pickle.Pickler(out).dump(state)  # what torch.save writes, near enough: a pickle
    with pytest.raises(ModelDirError, match=rf"{weights}: pickle, never loaded"):
        load_model_dir(model_dir)
    assert no_unpickling == []


def test_loading_safetensors_never_unpickles(tmp_path, random_model_dir, no_unpickling):
    model_dir = tmp_path / "both"
    shutil.copytree(random_model_dir, model_dir)
    (model_dir / "pytorch_model.bin").write_bytes(b"\x80\x04not to be read")  # beside the safetensors: ignored
    assert load_model_dir(model_dir).model is not None
    assert no_unpickling == []
