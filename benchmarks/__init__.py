"""stipple's benchmarks: evaluation harnesses and the sandbox that runs candidate programs."""
