"""stipple's benchmarks: evaluation harnesses and the sandbox that runs candidate programs, and the top of
the layers: cli.py is the `stipple` entry point, gathering every package's subcommands."""
