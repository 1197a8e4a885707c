"""Weights and loading: what a model directory holds and how it gets onto the device.

checkpoint.py (the safetensors headers, read without tensor data), memory.py (what a model needs
against what the device has, refused with the numbers), loader.py (directory <-> ModelArgs +
Transformer + Tokenizer, safetensors only), tokenizer.py (the named special tokens), adapter.py
(LoRA adapters, merged once), default_model.py (the shipped models by name and the one-time build of
the default), model_report.py and cli.py (`stipple models info|verify`). The architectures themselves
are in engine/models/, the GGUF converter in engine/convert/, the shipped files in engine/assets/.
"""
