import subprocess
import sys
from datetime import timedelta

import pytest

from crawlers.seeds import SeedsError, load_seeds
from tests.conftest import data_path


def test_good_seeds_file_parses_every_option():
    seeds = load_seeds(data_path("seeds", "good.yaml"))
    a, b = seeds.sources
    assert a.name == "site-a" and a.feeds == ("https://site-a.example/feed.xml",)
    assert b.start_urls == ("http://127.0.0.2:8080/",) and b.feeds == ()
    assert b.max_pages == 50 and b.max_age == timedelta(days=7) and b.priority == 5
    assert b.domains == {"127.0.0.2:8080"}
    assert seeds.settings == {"window_days": 14}


@pytest.mark.parametrize(
    ("name", "where", "words"),
    [
        ("missing.yaml", "", "file not found"),
        ("not-yaml.yaml", "line", "not valid YAML"),
        ("unknown-key.yaml", "sources[0].colour", "unknown key"),
        ("bad-name.yaml", "sources[0].name", "[a-z0-9-]"),
        ("bad-url.yaml", "sources[1].sitemaps[0]", "not an http(s) URL"),
        ("duplicate-name.yaml", "sources[1].name", "duplicate name"),
    ],
)
def test_bad_seeds_name_file_and_field(name, where, words):
    path = data_path("seeds", name)
    with pytest.raises(SeedsError) as err:
        load_seeds(path)
    message = str(err.value)
    assert message.startswith(str(path))
    assert where in message and words in message


def test_select_unknown_source_is_an_error():
    seeds = load_seeds(data_path("seeds", "good.yaml"))
    with pytest.raises(SeedsError, match="no source named 'nope'"):
        seeds.select(["nope"])
    assert [s.name for s in seeds.select(["site-b"])] == ["site-b"]


@pytest.mark.parametrize("name", ["bad-url.yaml", "not-yaml.yaml", "missing.yaml"])
def test_cli_exits_2_and_writes_nothing_on_bad_seeds(tmp_path, name):
    out = tmp_path / "lake"
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", "--seeds", str(data_path("seeds", name)),
         "--output", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert name in proc.stderr
    assert not out.exists()


def test_secrets_are_refused_in_seeds_settings():
    from flows.config import resolve_settings

    seeds = load_seeds(data_path("seeds", "secret-in-settings.yaml"))
    with pytest.raises(SeedsError, match="secrets belong in the environment"):
        resolve_settings({}, seeds, environ={})


def test_settings_precedence_cli_then_env_then_seeds():
    from flows.config import resolve_settings

    seeds = load_seeds(data_path("seeds", "good.yaml"))
    assert resolve_settings({}, seeds, environ={}).window_days == 14
    env = {"NEWSDEDUP_WINDOW_DAYS": "21", "NEWSDEDUP_REDIS_URL": "redis://u:pw@h:1/0"}
    settings = resolve_settings({}, seeds, environ=env)
    assert settings.window_days == 21
    assert "pw" not in str(settings.masked()) and "***" in settings.masked()["redis_url"]
    assert resolve_settings({"window_days": 3}, seeds, environ=env).window_days == 3


def test_every_shipped_seeds_file_validates():
    from pathlib import Path

    files = sorted((Path(__file__).parent.parent / "seeds").glob("*.yaml"))
    assert len(files) >= 2
    for path in files:
        seeds = load_seeds(path)
        assert seeds.sources, path


@pytest.mark.timeout(20)
@pytest.mark.parametrize("name", ["alias-bomb.yaml", "alias-bomb-settings.yaml"])
def test_alias_bomb_is_refused_at_once(name):
    import time

    path = data_path("seeds", name)
    started = time.monotonic()
    with pytest.raises(SeedsError) as err:
        load_seeds(path)
    assert time.monotonic() - started < 1.0
    message = str(err.value)
    assert message.startswith(str(path)) and "alias" in message
    assert len(message) < 300  # the value is never spelled out


@pytest.mark.parametrize("command", ["run", "config"])
@pytest.mark.parametrize("name", ["alias-bomb.yaml", "alias-bomb-settings.yaml"])
def test_cli_exits_2_quickly_on_an_alias_bomb(tmp_path, command, name):
    out = tmp_path / "lake"
    proc = subprocess.run(
        [sys.executable, "-m", "flows.cli", command, "--seeds", str(data_path("seeds", name)),
         "--output", str(out)],
        capture_output=True, text=True, timeout=20,
    )
    assert proc.returncode == 2, proc.stderr
    assert name in proc.stderr and "alias" in proc.stderr
    assert len(proc.stderr) < 400
    assert not out.exists()


def test_moderate_aliases_still_work():
    seeds = load_seeds(data_path("seeds", "aliases-ok.yaml"))
    assert [s.deny for s in seeds.sources] == [("/video/", "/live/", "/podcast/")] * 2


def test_values_in_messages_are_cut_short(tmp_path):
    from flows.config import resolve_settings

    path = tmp_path / "long.yaml"
    path.write_text(
        "sources:\n  - name: [" + ", ".join(["x" * 1000] * 500) + "]\n"
        "    feeds: [https://a.example/feed]\n"
    )
    with pytest.raises(SeedsError) as err:
        load_seeds(path)
    assert "sources[0].name" in str(err.value) and len(str(err.value)) < len(str(path)) + 200
    head = "sources:\n  - name: a\n    feeds: [https://a.example/feed]\nsettings:\n"
    path.write_text(head + "  user_agent: {a: [1, 2, 3]}\n")
    with pytest.raises(ValueError, match="settings.user_agent: must be a single value"):
        resolve_settings({}, load_seeds(path), environ={})
    path.write_text(head + "  window_days: '" + "9x" * 5000 + "'\n")
    with pytest.raises(ValueError, match="settings.window_days: not an integer") as err:
        resolve_settings({}, load_seeds(path), environ={})
    assert len(str(err.value)) < len(str(path)) + 200


def test_deep_nesting_is_refused(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("sources: " + "[" * 20000 + "]" * 20000 + "\n")
    with pytest.raises(SeedsError, match="nested more than"):
        load_seeds(path)
