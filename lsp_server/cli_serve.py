"""`stipple serve`: the language server on stdio (default) or TCP (127.0.0.1 unless told otherwise).

stdout is the JSON-RPC channel on stdio, so logs go to stderr or --log-file, never stdout.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from engine.denoise.params import DTYPES  # torch-free


def parse_address(spec: str) -> tuple[str, int]:
    """HOST:PORT or PORT; HOST defaults to 127.0.0.1 (never all interfaces unless asked)."""
    host, _, port = spec.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT or PORT, got {spec!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def cmd_serve(args: argparse.Namespace) -> int:
    handler = logging.FileHandler(args.log_file) if args.log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    logging.getLogger("stipple").setLevel(args.log_level.upper())
    logging.getLogger("pygls").setLevel(logging.WARNING)
    if args.threads:
        os.environ["STIPPLE_THREADS"] = str(args.threads)
    from lsp_server.handlers import create_server

    server = create_server()
    overrides = {key: value for key, value in (("model", args.model), ("device", args.device),
                                               ("dtype", args.dtype)) if value}
    overrides["log_level"] = args.log_level
    server.apply_settings(overrides)
    server.emit_spans = args.spans
    if args.record:
        from lsp_server.recorder import TraceRecorder

        server.protocol.recorder = TraceRecorder(args.record)
    if args.tcp:
        host, port = args.tcp
        logging.getLogger("stipple.server").info("listening on %s:%d", host, port)
        server.start_tcp(host, port)
    else:
        server.start_io()
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the language server (stdio, or --tcp HOST:PORT)")
    p.add_argument("--tcp", type=parse_address, default=None, metavar="HOST:PORT",
                   help="listen on TCP instead of stdio (HOST defaults to 127.0.0.1)")
    p.add_argument("--model", default=None, help="model directory or name (default: embedded)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda")
    p.add_argument("--dtype", default=None, choices=DTYPES,
                   help="auto: bfloat16 on GPUs and on CPUs with native bf16, else float32")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (also $STIPPLE_THREADS)")
    p.add_argument("--log-file", default=None, help="log here instead of stderr")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--spans", action="store_true",
                   help="send a stipple/spans notification (per-stage timings) after each completion request")
    p.add_argument("--record", default=None, metavar="TRACE.msgpack",
                   help="record every LSP message with its time to a msgpack trace (see `stipple bench replay`)")
    p.set_defaults(func=cmd_serve)
