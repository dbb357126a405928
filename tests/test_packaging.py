"""A plain `pip install .` gives a working `assistant`: the wheel carries the fitted ranker, the
chat's CSS/JS and the German word lists, and the installed (not editable) package answers a
question from outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")  # setuptools' build/ folder, not in the checkout
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        cwd=build,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    (found,) = out.glob("assistant-*.whl")
    return found


def test_the_wheel_carries_models_static_files_and_word_lists(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "assistant/answer/models/ranker.json",
        "assistant/answer/models/ranker_span.lgb.txt",
        "assistant/ui/static/chat.css",
        "assistant/ui/static/sources.js",
        "assistant/ui/static/document.js",
    ):
        assert needed in names, needed
    assert any(n.startswith("assistant/text/") and n.endswith(".txt") for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "assistant = assistant.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_the_installed_package_answers_outside_the_checkout(wheel: Path, tmp_path: Path, corpus_copy: Path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    # the installed copy first, then the dependencies of this environment (not the checkout)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(PYTHONPATH=os.pathsep.join([str(target), sysconfig.get_paths()["purelib"]]), PYTHONNOUSERSITE="1")
    env.update(ASSISTANT_MODEL="none", ASSISTANT_READER="none")
    args = ["--index", str(tmp_path / "index"), "--corpus", str(corpus_copy)]
    code = "import sys, assistant.cli; print(assistant.__file__, file=sys.stderr); assistant.cli.main()"
    subprocess.run([sys.executable, "-c", code, "index", *args], capture_output=True, cwd=tmp_path, env=env, check=True)
    run = subprocess.run(
        [sys.executable, "-c", code, "ask", "Wie hoch ist das Budget von COSME?", *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert str(target) in run.stderr  # the installed copy answered, not the checkout
    assert "2,3 Mrd." in run.stdout and "[1]" in run.stdout
