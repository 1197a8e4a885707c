"""Converters from third-party checkpoint formats into stipple model directories.

Each converter writes the Hugging Face layout that engine.weights.loader reads (config.json,
model.safetensors, tokenizer.json) plus a SOURCE.json that records where the weights came from.
"""
