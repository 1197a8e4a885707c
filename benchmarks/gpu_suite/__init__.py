"""The GPU suite: one command that measures the GPU fast path and writes JSON plus a Markdown summary.

    python -m benchmarks.gpu_suite --out DIR [--dry-run] [--only kernels,decode,server] [--shapes ...]

Parts: kernel tests and kernel timings on the device (kernels.py), memory bandwidth and per-step
time / tokens per second for random-weight Qwen2- and LLaDA-shaped models against their weight-read
bound, with the autoregressive baseline at the same shape (decode.py), and end-to-end latency of
the real server with the default model (server.py). --dry-run runs every part but the server at tiny
shapes on the CPU in seconds (a test runs it). benchmarks/gpu/README.md has the GPU procedure.
"""
