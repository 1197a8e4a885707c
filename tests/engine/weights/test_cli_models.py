"""`stipple models info|verify` on a sharded Dream-layout checkpoint and on corrupted copies."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from engine.cli import main
from engine.models import ModelArgs, Transformer
from engine.weights.loader import ModelDirError, load_model_dir
from engine.weights.memory import InsufficientMemoryError, check_fits

SHAPE = dict(vocab_size=512, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2)
LAST = "model.layers.1.mlp.down_proj.weight"


@pytest.fixture(scope="module")
def dream_dir(tmp_path_factory, tokenizer_path) -> Path:
    """A Dream-family directory (Qwen2 names, no shift_logits key) in two shards plus an index."""
    path = tmp_path_factory.mktemp("dream")
    torch.manual_seed(0)
    model = Transformer(ModelArgs(**SHAPE, attention_bias=True, tie_word_embeddings=False))
    state = {k: v.detach().to(torch.bfloat16).contiguous() for k, v in model.state_dict().items()}
    names = sorted(state)
    shards = {"model-00001-of-00002.safetensors": names[: len(names) // 2],
              "model-00002-of-00002.safetensors": names[len(names) // 2 :]}
    for file, keys in shards.items():
        save_file({k: state[k] for k in keys}, str(path / file))
    weight_map = {k: file for file, keys in shards.items() for k in keys}
    (path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    config = {"architectures": ["DreamModel"], "model_type": "Dream", **SHAPE,
              "tie_word_embeddings": False, "torch_dtype": "bfloat16",
              "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 2, "mask_token_id": 3}
    (path / "config.json").write_text(json.dumps(config))
    shutil.copy(tokenizer_path, path / "tokenizer.json")
    return path


def shard_of(path: Path, name: str) -> Path:
    index = json.loads((path / "model.safetensors.index.json").read_text())
    return path / index["weight_map"][name]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_info_reports_family_size_dtype_and_fit(capsys, dream_dir):
    code, out, _ = run(capsys, "models", "info", str(dream_dir), "--device", "cpu")
    assert code == 0
    assert "family            dream" in out and "bfloat16" in out and "shifted" in out
    code, out, _ = run(capsys, "models", "info", str(dream_dir), "--device", "cpu", "--json")
    info = json.loads(out)
    args = ModelArgs(**SHAPE, attention_bias=True, tie_word_embeddings=False)
    assert info["parameters"] == args.num_parameters
    assert info["checkpoint_dtype"] == "bfloat16" and info["checkpoint_files"] == 2
    assert info["special_tokens"]["mask"] == 3 and info["fits"] is True
    assert info["memory_needed_bytes"] >= args.num_parameters * 4  # float32 on the CPU


def test_verify_passes_and_the_model_loads(capsys, dream_dir):
    code, out, _ = run(capsys, "models", "verify", str(dream_dir))
    assert code == 0 and "OK (dream" in out
    loaded = load_model_dir(dream_dir)
    assert loaded.family.name == "dream" and loaded.args.shift_logits
    assert loaded.model.lm_head.weight.dtype == torch.float32
    expected = load_file(str(shard_of(dream_dir, LAST)))[LAST].float()
    assert torch.equal(loaded.model.model.layers[1].mlp.down_proj.weight.detach(), expected)


def corrupt(tmp_path: Path, source: Path, how: str) -> Path:
    broken = tmp_path / how
    shutil.copytree(source, broken)
    shard = shard_of(broken, LAST)
    if how == "truncated":
        data = shard.read_bytes()
        shard.write_bytes(data[: len(data) - 100])
        return broken
    tensors = load_file(str(shard))
    if how == "wrong_shape":
        tensors[LAST] = tensors[LAST][:, :-1].contiguous()
    elif how == "wrong_dtype":
        tensors[LAST] = tensors[LAST].to(torch.int16)
    elif how == "missing":
        del tensors[LAST]
    save_file(tensors, str(shard))
    if how == "missing":
        index = json.loads((broken / "model.safetensors.index.json").read_text())
        del index["weight_map"][LAST]
        (broken / "model.safetensors.index.json").write_text(json.dumps(index))
    return broken


@pytest.mark.parametrize("how, message", [
    ("truncated", r"corrupt weights \(truncated"),
    ("wrong_shape", rf"{LAST}: shape \[32, 63\] in model-0000\d-of-00002.safetensors, config implies \[32, 64\]"),
    ("wrong_dtype", rf"{LAST}: dtype I16"),
    ("missing", rf"missing tensor {LAST} \(shape \[32, 64\]\)"),
])
def test_verify_and_load_name_each_corruption(capsys, tmp_path, dream_dir, how, message):
    broken = corrupt(tmp_path, dream_dir, how)
    code, out, err = run(capsys, "models", "verify", str(broken))
    assert code == 1 and "1 problem(s)" in out, out
    assert re.search(message, out), out
    assert "problem(s)" in err
    with pytest.raises(ModelDirError, match=message):
        load_model_dir(broken)


def test_unreadable_directories_are_one_clear_line(capsys, tmp_path):
    code, _, err = run(capsys, "models", "info", str(tmp_path / "nope"))
    assert code == 2 and "does not exist" in err
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    (tmp_path / "tokenizer.json").write_text("{}")
    code, out, _ = run(capsys, "models", "verify", str(tmp_path))
    assert code == 1 and "unsupported model (model_type 'gpt2'" in out


def test_memory_shortfall_is_refused_before_loading(capsys, monkeypatch, dream_dir):
    with pytest.raises(InsufficientMemoryError, match=r"7.62B parameters need 15.6 GiB in bfloat16 "
                                                       r"on cuda, which has 1.0 GiB free"):
        monkeypatch.setattr("engine.weights.memory.available_bytes", lambda device: 2**30)
        check_fits(7_615_616_512, torch.bfloat16, "cuda", "Dream-v0-7B")
    monkeypatch.setattr("engine.weights.memory.available_bytes", lambda device: 2**20)
    with pytest.raises(InsufficientMemoryError, match="1.0 MiB free|0.0 GiB free"):
        load_model_dir(dream_dir)
    monkeypatch.setattr("engine.weights.model_report.available_bytes", lambda device: 2**20)
    code, out, _ = run(capsys, "models", "info", str(dream_dir), "--device", "cpu")
    assert code == 0 and "fits              NO (1.0 MiB free on cpu)" in out
