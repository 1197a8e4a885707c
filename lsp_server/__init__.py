"""stipple's language server and command line. Imports the engine lazily; knows nothing of torch."""
