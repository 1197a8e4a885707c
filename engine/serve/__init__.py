"""Team deployment: the engine as a Ray Serve application (`stipple deploy`).

api.py (the OpenAI-style request and response objects, validation, limits; no Ray), steps.py (the
diffusion Engine with a per-step hook, for streaming), worker.py (one replica's engine on a worker
thread, batching and cancelling like the language server's bridge; no Ray), app.py (the Serve
deployment: routes, auth, health), cli.py (`stipple deploy`). Ray is an optional extra
(`stipple[serve]`) and is imported only by app.py and cli.py's command.
"""
