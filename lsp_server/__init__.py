"""stipple's language server and its subcommands (serve, complete). Imports the engine lazily; knows
nothing of torch, training or the benchmarks."""
