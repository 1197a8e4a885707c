"""stipple's diffusion engine: models, sampler, and the Engine facade. Knows nothing of LSP."""
