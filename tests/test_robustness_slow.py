"""The slow part of the robustness suite (``pytest -m slow``): many SIGKILL trials against
`assistant index`, a corpus with a real 200 MB file indexed under default settings with the
peak memory of the indexing process recorded, and the fuzzers of test_robustness.py with many
more examples."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from test_robustness import (
    ROOT,
    _apply_mutation,
    _decode_fuzzed,
    _load_fuzzed,
    _parse_testset,
    check_hostile_build,
    csv_documents,
    html_bytes,
    index_command,
    index_env,
    jsonl_lines,
    kill_plan,
    kill_trial,
    make_hostile_corpus,
    office_files,
    office_mutations,
    outcome_table,
    prepare_scenarios,
    some_bytes,
)

from assistant.config import Settings
from assistant.index.reader import load_index

pytestmark = pytest.mark.slow

PEAK_LIMIT_BYTES = 1_500_000_000


def test_index_killed_at_many_random_moments(tmp_path):
    """28 trials: for each way of running `assistant index` (first build, --full over an index,
    update after a changed document, update after an added one) five kills stratified over the
    first 90 % of a normal run and two in the write-and-switch window; every second trial also
    kills the follow-up run before one is let finish."""
    scenarios = prepare_scenarios(tmp_path, count=400, seed=7)
    rng = random.Random(1234567)
    outcomes = []
    trial = 0
    for scenario in scenarios.values():
        for kill in kill_plan(rng, scenario.timing, spread=5, focused=2):
            second = kill_plan(rng, scenario.timing, 1, 0)[0] if trial % 2 else None
            outcomes.append(kill_trial(scenario, kill, tmp_path / f"versuch-{trial:02d}", second))
            trial += 1
    print("\n" + outcome_table(scenarios, outcomes))
    killed = [o for o in outcomes if o.killed]
    assert len(killed) >= 20, f"nur {len(killed)} Läufe wirklich abgebrochen"
    phases = {o.phase for o in killed}
    assert {"vor dem Schreiben", "beim Schreiben"} <= phases, phases


_PEAK = (
    "import json, resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "print(json.dumps({'rc': done.returncode, 'stdout': done.stdout, 'stderr': done.stderr,\n"
    "                  'maxrss_kib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n"
)


def test_hostile_corpus_with_a_200_mb_file_under_default_settings(tmp_path):
    if shutil.disk_usage(tmp_path).free < 1_000_000_000:
        pytest.skip("weniger als 1 GB frei für die 200-MB-Datei")
    corpus = make_hostile_corpus(tmp_path, big_file_bytes=200_000_000)
    assert (corpus / "riesig.txt").stat().st_size >= 200_000_000
    index = tmp_path / "index"
    # A wrapper process runs `assistant index` as its only child, so RUSAGE_CHILDREN is the peak
    # of that process alone, not of every subprocess this test session ever waited for.
    wrapper = subprocess.run(
        [sys.executable, "-c", _PEAK, *index_command(corpus, index)],
        env=index_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert wrapper.returncode == 0, wrapper.stderr
    result = json.loads(wrapper.stdout)
    assert result["rc"] == 0, result["stderr"]
    peak = result["maxrss_kib"] * 1024
    print(f"\nSpitzenspeicher von `assistant index`: {peak / 1e6:.0f} MB\n{result['stdout']}")
    assert peak < PEAK_LIMIT_BYTES
    assert "riesig.txt: Datei zu groß" in result["stdout"]
    manifest = load_index(index).manifest
    skipped = {s["path"]: s["reason"] for s in manifest.skipped}
    check_hostile_build(
        Settings(corpus_dir=corpus, index_dir=index, model="none", reader="none", progress=False),
        skipped,
        manifest.document_count,
    )


MANY = hsettings(
    max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz-lang")


@MANY
@given(raw=some_bytes)
def test_fuzz_decode_text_many(raw):
    _decode_fuzzed(raw)


@MANY
@given(raw=some_bytes, suffix=st.sampled_from([".txt", ".md", ".csv"]))
def test_fuzz_load_text_and_markdown_many(fuzz_dir, raw, suffix):
    _load_fuzzed(fuzz_dir, "fuzz" + suffix, raw)


@MANY
@given(suffix=st.sampled_from([".docx", ".odt", ".pptx", ".xlsx"]), mutation=office_mutations)
def test_fuzz_load_office_many(fuzz_dir, suffix, mutation):
    _load_fuzzed(fuzz_dir, "fuzz" + suffix, _apply_mutation(office_files()[suffix], mutation))


@MANY
@given(raw=html_bytes)
def test_fuzz_load_html_many(fuzz_dir, raw):
    _load_fuzzed(fuzz_dir, "fuzz.html", raw)


@MANY
@given(lines=st.lists(jsonl_lines, max_size=8))
def test_fuzz_testset_jsonl_many(fuzz_dir, lines):
    _parse_testset(fuzz_dir, "fuzz.jsonl", "\n".join(lines).encode("utf-8", errors="surrogatepass"))


@MANY
@given(text=st.one_of(csv_documents, st.text(max_size=300)), suffix=st.sampled_from([".csv", ".tsv"]))
def test_fuzz_testset_csv_many(fuzz_dir, text, suffix):
    _parse_testset(fuzz_dir, "fuzz" + suffix, text.encode("utf-8", errors="surrogatepass"))
