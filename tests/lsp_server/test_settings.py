"""Settings: camelCase or snake_case, with or without a "stipple" section, bad values reported."""

from __future__ import annotations

import pytest

from lsp_server.cli_serve import parse_address
from lsp_server.settings import Settings


def test_defaults_and_threads_from_environment(monkeypatch):
    monkeypatch.setenv("STIPPLE_THREADS", "1")
    settings = Settings()
    assert settings.threads == 1 and settings.model is None and settings.enabled("python")
    assert not settings.enabled("cobol")


@pytest.mark.parametrize("data", [
    {"stipple": {"steps": 8, "maxSpanTokens": 12, "modelDir": "/m", "debounceMs": 0}},
    {"steps": 8, "max_span_tokens": 12, "model": "/m", "debounce_ms": 0},
])
def test_updated(data: dict):
    settings, problems = Settings().updated(data)
    assert problems == []
    assert (settings.steps, settings.max_span_tokens, settings.model, settings.debounce_ms) == (8, 12, "/m", 0)
    assert settings.needs_reload(Settings()) and not settings.needs_reload(settings)


def test_bad_values_are_reported_and_ignored():
    settings, problems = Settings().updated({"steps": 0, "device": 3, "logLevel": "LOUD", "languages": {"go": "no"},
                                             "threads": True, "dtype": "int8", "unknownThing": 1})
    assert settings == Settings() and len(problems) == 6


@pytest.mark.parametrize("key, value, ok", [  # found by fuzzing: a debounce of hours held every request
    ("debounceMs", 10**9, False), ("debounceMs", 5000, True), ("debounceMs", -1, False),
    ("steps", 2**40, False), ("steps", 4096, True), ("maxSpanTokens", 10**6, False),
    ("maxPrefixTokens", 2**63, False), ("maxSuffixTokens", 0, True),
])
def test_integer_settings_have_ranges(key: str, value: int, ok: bool):
    settings, problems = Settings().updated({key: value})
    assert (problems == []) == ok and (settings != Settings()) == (ok and value != getattr(Settings(), key, None))


def test_languages_merge():
    settings, _ = Settings().updated({"languages": {"go": False}})
    assert not settings.enabled("go") and settings.enabled("rust")


def test_non_object_settings():
    assert Settings().updated(None) == (Settings(), [])
    assert Settings().updated([1])[1]


@pytest.mark.parametrize("spec, address", [("9000", ("127.0.0.1", 9000)), (":9000", ("127.0.0.1", 9000)),
                                           ("0.0.0.0:9000", ("0.0.0.0", 9000)), ("[::1]:9000", ("::1", 9000))])
def test_tcp_address(spec: str, address: tuple[str, int]):
    assert parse_address(spec) == address


def test_lsp_server_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, lsp_server.handlers, lsp_server.cli; lsp_server.cli.build_parser(); "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_sampler_settings():
    new, problems = Settings().updated({"strategy": "threshold", "threshold": 0.7, "reuseContext": False})
    assert (new.strategy, new.threshold, new.reuse_context, problems) == ("threshold", 0.7, False, [])
    new, problems = Settings().updated({"strategy": "fastest", "threshold": 1.5, "reuseContext": "yes"})
    assert new == Settings() and len(problems) == 3


def test_guide_setting_reloads_the_engine():
    assert Settings().guide == "auto"
    off, problems = Settings().updated({"guide": None})
    assert off.guide is None and problems == [] and off.needs_reload(Settings())
    bad, problems = Settings().updated({"guide": 3})
    assert bad.guide == "auto" and len(problems) == 1


@pytest.mark.parametrize("data, problems, expected", [
    ({"workspaceContext": False}, 0, {"workspace_context": False}),
    ({"workspaceBudgetShare": 0.4, "workspaceExclude": ["docs/**"]}, 0,
     {"workspace_budget_share": 0.4, "workspace_exclude": ["docs/**"]}),
    ({"workspaceBudgetShare": 1.5}, 1, {"workspace_budget_share": 0.25}),
    ({"workspaceExclude": "docs/**"}, 1, {"workspace_exclude": []}),
    ({"workspaceExclude": [3]}, 1, {"workspace_exclude": []}),
])
def test_workspace_settings(data: dict, problems: int, expected: dict):
    settings, found = Settings().updated(data)
    assert len(found) == problems
    assert {name: getattr(settings, name) for name in expected} == expected
