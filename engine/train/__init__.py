"""Training-side code: corpus collection, tokenizer training and (later) model training loops."""
