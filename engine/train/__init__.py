"""Training: corpus collection, tokenizer training, the objectives, the training loop, the adaptation of
the default model (adapt_default.py) and `stipple train` (cli.py)."""
