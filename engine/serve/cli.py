"""`stipple deploy`: the engine as a Ray Serve application, in the foreground.

    stipple deploy [--host 127.0.0.1] [--port 8000] [--replicas N] [--max-replicas M] [--model M]
                   [--address RAY_ADDRESS] [--device auto|cpu|cuda] [--threads T] [--max-batch B]

Without --address a local Ray instance is started (no dashboard, no usage stats) and stopped on
exit; with one (`ray start --head` printed it) the application joins that cluster and only the
application is removed on exit. Ctrl-C or SIGTERM shuts everything down. With $STIPPLE_API_TOKEN set
at start every request must carry `Authorization: Bearer <token>`. Needs `pip install 'stipple[serve]'`.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import sys
import threading
from pathlib import Path

log = logging.getLogger("stipple.deploy")
APP_NAME = "stipple"


def add_parser(sub: argparse._SubParsersAction) -> None:
    from engine.denoise.params import COMPLETERS, DTYPES  # torch-free
    from engine.serve.api import MAX_BODY_BYTES

    p = sub.add_parser("deploy", help="serve the engine over HTTP with Ray Serve (OpenAI-style /v1/completions)")
    p.add_argument("--host", default="127.0.0.1", help="address the HTTP proxy binds (default: loopback only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--address", default=None, help="join this Ray cluster (e.g. HEAD:6379) instead of starting one")
    p.add_argument("--replicas", type=int, default=None, help="engine replicas (default: one per GPU, else 1)")
    p.add_argument("--max-replicas", type=int, default=None,
                   help="autoscale between --replicas and this many on requests in flight per replica")
    p.add_argument("--model", default=None, help="model directory or shipped name (default: embedded)")
    p.add_argument("--device", default="auto", help="auto (a GPU per replica when the cluster has GPUs), cpu, cuda")
    p.add_argument("--dtype", default="auto", choices=DTYPES)
    p.add_argument("--threads", type=int, default=1, help="torch threads (and CPUs reserved) per CPU replica")
    p.add_argument("--completer", default="diffusion", choices=COMPLETERS)
    p.add_argument("--max-batch", type=int, default=8, help="requests sharing a forward pass in a replica")
    p.add_argument("--max-span-tokens", type=int, default=256, help="largest max_tokens a request may ask")
    p.add_argument("--max-body-bytes", type=int, default=MAX_BODY_BYTES, help="larger bodies get 413")
    p.add_argument("--request-timeout", type=float, default=60.0, help="seconds before a request is stopped")
    p.set_defaults(func=cmd_deploy)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def cmd_deploy(args: argparse.Namespace) -> int:
    try:
        import ray
        from ray import serve
    except ImportError:
        print("stipple deploy: Ray Serve is not installed; pip install 'stipple[serve]'", file=sys.stderr)
        return 2
    from engine.serve.app import ReplicaOptions, Scaling, build_app, token_digest
    from engine.weights.default_model import default_name

    token = os.environ.get("STIPPLE_API_TOKEN") or None
    if not is_loopback(args.host) and token is None:
        log.warning("binding %s without $STIPPLE_API_TOKEN: anyone who reaches this port can use the model",
                    args.host)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    stop = threading.Event()
    local = args.address is None
    ray.init(address=args.address, include_dashboard=False if local else None, logging_level=logging.WARNING,
             num_cpus=local_cpus(args) if local else None)
    for sig in (signal.SIGINT, signal.SIGTERM):  # after ray.init, which may install its own
        signal.signal(sig, lambda *_: stop.set())
    try:
        gpus = int(ray.cluster_resources().get("GPU", 0))
        on_gpu = args.device.startswith("cuda") or (args.device == "auto" and gpus > 0)
        model = args.model or default_name()
        options = ReplicaOptions(
            engine={"model_dir": model, "device": "cuda" if on_gpu and args.device == "auto" else args.device,
                    "dtype": args.dtype, "num_threads": None if on_gpu else args.threads,
                    "max_span_tokens": args.max_span_tokens},
            completer=args.completer, model_name=Path(model).name, max_batch=args.max_batch,
            max_body_bytes=args.max_body_bytes, request_timeout_s=args.request_timeout,
            token_sha256=token_digest(token) if token else None)
        scaling = Scaling(replicas=args.replicas or max(gpus if on_gpu else 1, 1), max_replicas=args.max_replicas,
                          num_cpus=1 if on_gpu else args.threads, num_gpus=1 if on_gpu else 0,
                          target_ongoing_requests=args.max_batch)
        serve.start(http_options={"host": args.host, "port": args.port})
        serve.run(build_app(options, scaling), name=APP_NAME, route_prefix="/")
        print(f"stipple deploy: http://{args.host}:{args.port}/v1 ({scaling.replicas} "
              f"{'GPU' if on_gpu else 'CPU'} replica{'s' if scaling.replicas > 1 else ''} of {options.model_name}"
              f"{', auth on' if token else ''}); Ctrl-C stops", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
        print("stipple deploy: shutting down", file=sys.stderr, flush=True)
    finally:
        shutdown(local)
    return 0


def local_cpus(args: argparse.Namespace) -> int:
    """Logical CPUs for a local instance: every replica's reservation fits even on a small machine."""
    return max(os.cpu_count() or 1, (args.max_replicas or args.replicas or 1) * args.threads)


def shutdown(local: bool) -> None:
    """Local: stop Serve and Ray (no process left). Joined: remove this application (and Serve, when
    nothing else runs on it), then disconnect; the cluster stays up."""
    import ray
    from ray import serve

    try:
        if local:
            serve.shutdown()
        else:
            serve.delete(APP_NAME)
            if not serve.status().applications:
                serve.shutdown()
    except Exception as exc:  # Ray may already be going down (SIGTERM to the group)
        log.warning("serve shutdown: %s", exc)
    finally:
        ray.shutdown()
