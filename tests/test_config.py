"""Settings: defaults < TOML file < ASSISTANT_* environment < explicit overrides; bad values
are rejected with the name of the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.errors import ConfigError


def write_toml(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def test_defaults_without_file_or_environment():
    settings = Settings.load(env={})
    assert settings == Settings()
    assert settings.top_k == 5
    assert settings.retrieval == "hybrid"
    assert settings.index_dir == Path("index")


def test_precedence_defaults_file_environment_overrides(tmp_path):
    config = write_toml(
        tmp_path / "assistant.toml",
        """
[assistant]
top_k = 7
chunk_size = 400
chunk_overlap = 40
model = "none"
retrieval = "lexical"
index_dir = "from-file"
""",
    )
    env = {"ASSISTANT_TOP_K": "9", "ASSISTANT_RETRIEVAL": "dense", "ASSISTANT_PROGRESS": "nein"}

    from_file = Settings.load(config_file=config, env={})
    assert (from_file.top_k, from_file.chunk_size, from_file.retrieval) == (7, 400, "lexical")
    assert from_file.index_dir == Path("from-file")
    assert from_file.rrf_k == Settings().rrf_k  # untouched settings keep their defaults

    from_env = Settings.load(config_file=config, env=env)
    assert from_env.top_k == 9  # environment beats the file
    assert from_env.retrieval == "dense"
    assert from_env.progress is False
    assert from_env.chunk_size == 400  # the file still beats the defaults

    overridden = Settings.load(config_file=config, env=env, top_k=3, retrieval=None, model="x/y")
    assert overridden.top_k == 3  # explicit overrides beat everything
    assert overridden.retrieval == "dense"  # None means "not given"
    assert overridden.model == "x/y"


def test_config_file_from_environment_and_top_level_table(tmp_path):
    config = write_toml(tmp_path / "plain.toml", 'top_k = 11\ncorpus_dir = "docs"\n')
    settings = Settings.load(env={"ASSISTANT_CONFIG": str(config)})
    assert settings.top_k == 11
    assert settings.corpus_dir == Path("docs")
    # An explicit file wins over ASSISTANT_CONFIG.
    other = write_toml(tmp_path / "other.toml", "top_k = 2\n")
    assert Settings.load(config_file=other, env={"ASSISTANT_CONFIG": str(config)}).top_k == 2


def test_environment_is_read_from_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("ASSISTANT_MODEL", "none")
    monkeypatch.setenv("ASSISTANT_DOC_WEIGHT", "0.5")
    settings = Settings.load()
    assert settings.model == "none"
    assert settings.dense_enabled is False
    assert settings.doc_weight == 0.5


@pytest.mark.parametrize(
    ("source", "field"),
    [
        ({"env": {"ASSISTANT_TOP_K": "viele"}}, "top_k"),
        ({"env": {"ASSISTANT_HUB_TIMEOUT": "bald"}}, "hub_timeout"),
        ({"env": {"ASSISTANT_PROGRESS": "vielleicht"}}, "progress"),
        ({"overrides": {"chunk_size": 10}}, "chunk_size"),
        ({"overrides": {"chunk_overlap": 2000}}, "chunk_overlap"),
        ({"overrides": {"retrieval": "fuzzy"}}, "retrieval"),
        ({"overrides": {"top_k": 0}}, "top_k"),
        ({"overrides": {"candidates": -3}}, "candidates"),
        ({"overrides": {"top_k": 2.5}}, "top_k"),  # no silent truncation to 2
        ({"overrides": {"top_k": True}}, "top_k"),  # TOML `top_k = true` is not 1
        ({"overrides": {"hub_timeout": -1}}, "hub_timeout"),
        ({"overrides": {"doc_weight": "nan"}}, "doc_weight"),
        ({"overrides": {"index_workers": 0}}, "index_workers"),
        ({"env": {"ASSISTANT_INDEX_WORKERS": "viele"}}, "index_workers"),
    ],
)
def test_invalid_values_name_the_field(source, field):
    with pytest.raises(ConfigError) as info:
        Settings.load(env=source.get("env", {}), **source.get("overrides", {}))
    assert field in str(info.value)


def test_invalid_value_in_file_names_field_and_file(tmp_path):
    config = write_toml(tmp_path / "bad.toml", '[assistant]\ncandidates = "alle"\n')
    with pytest.raises(ConfigError) as info:
        Settings.load(config_file=config, env={})
    assert "candidates" in str(info.value)
    assert str(config) in str(info.value)


def test_unknown_setting_is_named(tmp_path):
    config = write_toml(tmp_path / "typo.toml", "[assistant]\ntopk = 3\n")
    with pytest.raises(ConfigError, match="topk"):
        Settings.load(config_file=config, env={})
    with pytest.raises(ConfigError, match="colour"):
        Settings.load(env={}, colour="blau")


def test_missing_and_broken_config_files(tmp_path):
    with pytest.raises(ConfigError, match="nicht gefunden"):
        Settings.load(config_file=tmp_path / "fehlt.toml", env={})
    broken = write_toml(tmp_path / "broken.toml", "[assistant\ntop_k = ")
    with pytest.raises(ConfigError, match="kein gültiges TOML"):
        Settings.load(config_file=broken, env={})


def test_replace_coerces_and_validates():
    settings = Settings().replace(top_k="4", corpus_dir="anderswo", progress="0")
    assert settings.top_k == 4
    assert settings.corpus_dir == Path("anderswo")
    assert settings.progress is False
    with pytest.raises(ConfigError, match="chunk_overlap"):
        Settings().replace(chunk_overlap=1000)


@pytest.mark.parametrize(
    ("model", "dense"),
    [
        ("none", False),
        ("OFF", False),
        ("", False),
        ("  None ", False),
        ("/pfad/zum/modell", True),
        ("intfloat/multilingual-e5-small", True),
    ],
)
def test_dense_enabled(model, dense):
    assert Settings(model=model).dense_enabled is dense
    assert Settings(reader=model).reader_enabled is dense  # one rule for both model settings


def test_reader_setting_from_file_environment_and_call(tmp_path):
    assert Settings().reader == "deepset/gelectra-base-germanquad"
    assert Settings().reader_enabled is True
    config = write_toml(tmp_path / "reader.toml", 'reader = "/modelle/gelectra"\n')
    assert Settings.load(config_file=config, env={}).reader == "/modelle/gelectra"
    from_env = Settings.load(config_file=config, env={"ASSISTANT_READER": "none"})
    assert from_env.reader == "none" and from_env.reader_enabled is False
    assert Settings.load(env={"ASSISTANT_READER": "none"}, reader="./qa").reader_enabled is True
