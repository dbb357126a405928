"""Reposts: copies of one article on several sites (other header and footer, small edits, other
line wrapping) form one group at index time, with the earliest copy canonical; search shows the
group once and names the other copies; hard negatives (other articles of the same topic, a
shared boilerplate footer) stay apart."""

from __future__ import annotations

import dataclasses
import json
import shutil
import textwrap
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from assistant.cli import main
from assistant.config import Settings
from assistant.index import duplicates
from assistant.index.build import build_index
from assistant.index.duplicates import SHARED, Signatures, find_groups, shared_share, signature
from assistant.index.format import DUPLICATES, MINHASH, current_generation
from assistant.index.reader import load_index
from assistant.pipeline import Assistant
from assistant.search.retrieval import Retriever
from assistant.types import SearchFilters
from assistant.ui.render import render_sources, source_entries

ROOT = Path(__file__).resolve().parents[1]
NIRO = "2022-10-niro-clustererfolg.txt"
COPY_A = "netzwerk-a/niro-ausgezeichnet.txt"  # dated later than the original: a copy
COPY_B = "verbund-b/meldung-clustererfolg.txt"
FOOTER_DOCS = (
    "2017-05-balticnet-plasmatec-cluster-excellence-training.txt",
    "2022-05-go-cluster-eccp-infoveranstaltung.txt",
)
WESTFALEN = "in-die-region-westfalen-sommerempfang.txt"
QUESTION = "Wer wurde zum ClusterERFOLG 2022 gewählt?"
# 152 words, about a third of each of the two articles it is appended to: long, not most of the text.
FOOTER = (
    "Über das Netzwerk: Der Verbund bündelt seit 2008 die Kompetenzen von mehr als 120 Unternehmen, "
    "Hochschulen und Forschungseinrichtungen der Region. Gefördert wird die Clusterarbeit aus Mitteln "
    "des Landes und des Europäischen Fonds für regionale Entwicklung. Ansprechpartnerin für Presse und "
    "Mitgliedschaft ist die Geschäftsstelle, die Anfragen werktags von 9 bis 16 Uhr beantwortet. "
    "Datenschutz: Ihre Angaben werden ausschließlich zur Bearbeitung Ihrer Anfrage verwendet und nicht "
    "an Dritte weitergegeben. Impressum, Haftungsausschluss und Hinweise zu Cookies finden Sie auf der "
    "Internetseite des Verbunds. Newsletter abonnieren, Veranstaltungskalender, Mitglied werden, "
    "Kontakt aufnehmen, Stellenangebote der Mitglieder und Pressespiegel finden Sie ebenfalls dort. "
    "Unsere Arbeitsgruppen treffen sich viermal im Jahr zu Fachforen über Digitalisierung, "
    "Nachhaltigkeit, Fachkräfte und internationale Kooperation; die Termine stehen im Kalender. "
    "Mitglieder erhalten ermäßigte Teilnahmegebühren, den monatlichen Informationsdienst und Zugang zur "
    "Kooperationsbörse, in der Unternehmen Partner für gemeinsame Entwicklungsprojekte finden. "
    "Fördermittelberatung, Messebeteiligungen und Delegationsreisen organisiert die Geschäftsstelle "
    "gemeinsam mit den Partnern aus Wirtschaftsförderung, Kammern und Hochschulen."
)


def repost(text: str, site: str, published: str, width: int) -> str:
    """Another site's copy: own header (with its publication date) and footer, two words
    changed, one removed, the lines wrapped at ``width``."""
    body = text.replace("Skip to main content", "").replace("gelungene", "erfolgreiche").replace("rund ", "", 1)
    body = body.replace("Mitarbeiter*innen", "Mitarbeitende")
    wrapped = "\n\n".join(textwrap.fill(p, width) for p in body.split("\n\n") if p.strip())
    return (
        f"{site} – Aktuelles\nStartseite > Presse > Meldungen\nVeröffentlicht am {published}\n\n{wrapped}\n\n"
        f"Kontakt: Geschäftsstelle {site}, Telefon 0231 123456. Impressum | Datenschutz | Barrierefreiheit"
    )


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """The five real cluster articles, two reposts of one of them, a shared footer on two others."""
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    original = (corpus / NIRO).read_text(encoding="utf-8")
    for doc_id, site, published, width in (
        (COPY_A, "Netzwerk A", "25. Oktober 2022", 60),
        (COPY_B, "Verbund B", "3. November 2022", 95),
    ):
        (corpus / doc_id).parent.mkdir(parents=True, exist_ok=True)
        (corpus / doc_id).write_text(repost(original, site, published, width), encoding="utf-8")
    for doc_id in FOOTER_DOCS:
        path = corpus / doc_id
        path.write_text(path.read_text(encoding="utf-8") + "\n\n" + FOOTER, encoding="utf-8")
    return corpus


def settings_for(corpus: Path, index: Path) -> Settings:
    return Settings(corpus_dir=corpus, index_dir=index, model="none", reader="none", progress=False)


def test_planted_reposts_form_one_group_with_the_earliest_canonical(planted, tmp_path):
    report = build_index(settings_for(planted, tmp_path / "index"))
    assert report.duplicate_groups == [[NIRO, COPY_A, COPY_B]]  # the original (20.10.2022) is the earliest
    index = load_index(tmp_path / "index")
    assert index.duplicates.others(COPY_B) == (NIRO, COPY_A)
    # The hard negatives: the other articles are of the same topic (cluster events), two share a
    # long footer; none is in a group.
    for doc_id in FOOTER_DOCS:
        assert index.duplicates.others(doc_id) == ()
    pair = np.asarray([[index.documents.number[d] for d in FOOTER_DOCS]])
    stored = Signatures.load(index.path)
    assert stored is not None
    assert 0.2 < shared_share(stored, pair)[0] < SHARED  # the footer is seen, but it is not most of the text
    index.close()


TEMPLATE = (
    "Das Netzwerk lädt alle Mitglieder zum Jahrestreffen nach Dortmund ein. Auf dem Programm stehen "
    "Vorträge zur Digitalisierung im Mittelstand, ein Austausch der Arbeitsgruppen, die Wahl des "
    "Vorstands und am Abend ein gemeinsames Essen. Die Teilnahme ist für Mitglieder kostenlos; "
    "Gäste zahlen einen kleinen Beitrag. Anmeldungen nimmt die Geschäftsstelle bis eine Woche vor "
    "dem Termin entgegen. Wir freuen uns auf zahlreiche Teilnehmerinnen und Teilnehmer und auf "
    "anregende Gespräche mit Partnern aus Wirtschaft, Wissenschaft und Verwaltung."
)


@pytest.mark.parametrize("count", [0, 1, 7, 4096, 4097, 20_000])
def test_signatures_are_datasketchs_bit_for_bit(count):
    """The NumPy MinHash is datasketch's (2.x default scheme, same seed), also across the
    blocks it works in: indexes built with datasketch keep their stored signatures."""
    from datasketch import MinHash

    hashes = np.unique(np.random.default_rng(count).integers(0, 1 << 32, count, dtype=np.uint64))
    reference = MinHash(num_perm=duplicates.NUM_PERM, seed=duplicates.SEED, hashfunc=int)
    reference.update_batch(hashes.tolist())
    ours = duplicates._minhash(hashes)
    assert ours.dtype == np.uint32
    assert np.array_equal(ours, np.asarray(reference.hashvalues, dtype=np.uint32))


def test_building_imports_no_scipy_integrate(planted, tmp_path):
    """datasketch imported scipy.integrate (0.41 s of every `assistant index`); the build
    needs neither."""
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from assistant.config import Settings; "
        "from assistant.index.build import build_index; "
        f"build_index(Settings(corpus_dir=Path({str(planted)!r}), index_dir=Path({str(tmp_path / 'index')!r}), "
        "model='none', progress=False, index_workers=1)); "
        "print(sorted({'datasketch', 'scipy.integrate'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout


def test_the_earliest_copy_is_canonical_ties_by_id():
    sig, count = signature(TEMPLATE)
    s = Signatures(np.stack([sig, sig, sig]), np.asarray([count] * 3, dtype=np.int32), np.asarray([5, 3, 3]))
    assert find_groups(s, ["a.txt", "c.txt", "b.txt"]) == [["b.txt", "c.txt", "a.txt"]]
    s.day[:] = duplicates.NO_DATE  # undated: by id
    assert find_groups(s, ["a.txt", "c.txt", "b.txt"]) == [["a.txt", "b.txt", "c.txt"]]


def test_the_same_text_a_year_later_is_another_document():
    """A yearly event announced with last year's text is not a repost of it: the earlier one
    would otherwise stand for both as the canonical copy."""
    sig, count = signature(TEMPLATE)
    assert count >= duplicates.MIN_SHINGLES
    days = [date(2022, 10, 20).toordinal(), date(2023, 10, 19).toordinal(), date(2022, 11, 3).toordinal()]
    s = Signatures(np.stack([sig, sig, sig]), np.asarray([count] * 3, dtype=np.int32), np.asarray(days))
    assert find_groups(s, ["2022.txt", "2023.txt", "kopie-2022.txt"]) == [["2022.txt", "kopie-2022.txt"]]


def test_short_notices_from_one_template_stay_apart():
    first = "Die Anmeldung zum Workshop Wasserstoff am 5. Februar in Bremen ist ab sofort möglich."
    second = first.replace("5. Februar in Bremen", "7. März in Kiel")
    (sa, ca), (sb, cb) = signature(first), signature(second)
    assert ca < duplicates.MIN_SHINGLES
    s = Signatures(np.stack([sa, sb]), np.asarray([ca, cb], dtype=np.int32), np.full(2, duplicates.NO_DATE))
    assert find_groups(s, ["bremen.txt", "kiel.txt"]) == []
    same = Signatures(np.stack([sa, sa]), np.asarray([ca, ca], dtype=np.int32), np.full(2, duplicates.NO_DATE))
    assert find_groups(same, ["a.txt", "b.txt"]) == []  # too short to tell a repost from a template


def test_search_shows_a_group_once_naming_the_other_copies(planted, tmp_path):
    build_index(settings_for(planted, tmp_path / "index"))
    index = load_index(tmp_path / "index")
    retriever = Retriever(index, None, ngram_weight=2.0)
    hits = retriever.search(QUESTION, k=5)
    group = {NIRO, COPY_A, COPY_B}
    in_group = [h for h in hits if h.chunk.doc_id in group]
    assert len(in_group) == 1
    hit = in_group[0]
    # The canonical copy's chunk holds the same passage: the hit points there, the others named.
    assert hit.chunk.doc_id == NIRO and hit.also_published == (COPY_A, COPY_B)
    assert "ClusterERFOLG 2022" in hit.chunk.text and hit.to_json()["also_published"] == [COPY_A, COPY_B]
    # Without the groups the copies crowd the top (what the collapse removes).
    plain = Retriever(dataclasses.replace(index, duplicates=duplicates.DuplicateGroups()), None, ngram_weight=2.0)
    assert len({h.chunk.doc_id for h in plain.search(QUESTION, k=5)} & group) >= 2
    # A filter that leaves only a copy: that copy's hit, the canonical named among the others.
    only_b = retriever.search(QUESTION, k=5, filters=SearchFilters(doc_ids=frozenset({COPY_B})))
    assert only_b and only_b[0].chunk.doc_id == COPY_B and only_b[0].also_published == (NIRO, COPY_A)
    index.close()


def test_dated_listing_shows_a_group_once(planted, tmp_path):
    build_index(settings_for(planted, tmp_path / "index"))
    index = load_index(tmp_path / "index")
    retriever = Retriever(index, None)
    listed = retriever.dated_hits(SearchFilters(date_from=date(2022, 10, 1), date_to=date(2022, 12, 31)), set(), 10)
    docs = [h.chunk.doc_id for h in listed]
    assert docs.count(NIRO) == 1 and COPY_A not in docs and COPY_B not in docs
    # A copy already shown (excluded): the group is not listed again, by no copy.
    again = retriever.dated_hits(SearchFilters(date_from=date(2022, 10, 1), date_to=date(2022, 12, 31)), {COPY_A}, 10)
    assert not {NIRO, COPY_B} & {h.chunk.doc_id for h in again}
    index.close()


def test_a_changed_document_leaves_and_joins_its_group_on_update(planted, tmp_path, monkeypatch):
    settings = settings_for(planted, tmp_path / "index")
    build_index(settings)
    made: list[str] = []
    real = duplicates.signature

    def counting(text: str, *args: int) -> tuple[np.ndarray, int]:
        made.append(text[:40])
        return real(text, *args)

    monkeypatch.setattr(duplicates, "signature", counting)
    copy_b = planted / COPY_B
    kept = copy_b.read_text(encoding="utf-8")
    copy_b.write_text((planted / WESTFALEN).read_text(encoding="utf-8") + "\nVerbund B")
    report = build_index(settings)
    assert report.changed == [COPY_B] and len(made) == 1  # only the changed document is MinHashed again
    # B left the group and, now a copy of another article, joined that one's (same dates: by id).
    assert report.duplicate_groups == [[NIRO, COPY_A], [WESTFALEN, COPY_B]]
    copy_b.write_text(kept, encoding="utf-8")
    report = build_index(settings)
    assert report.duplicate_groups == [[NIRO, COPY_A, COPY_B]] and len(made) == 2
    (planted / NIRO).unlink()  # the canonical copy leaves: the next earliest takes its place
    assert build_index(settings).duplicate_groups == [[COPY_A, COPY_B]]


def test_an_index_without_groups_loads_and_its_next_update_adds_them(planted, tmp_path):
    settings = settings_for(planted, tmp_path / "index")
    build_index(settings)
    generation = current_generation(tmp_path / "index")
    assert generation is not None
    (generation / DUPLICATES).unlink()  # as an index built before reposts were merged
    (generation / MINHASH).unlink()
    index = load_index(tmp_path / "index")
    assert not index.duplicates and (index.doc_group == -1).all()
    hits = Retriever(index, None).search(QUESTION, k=5)
    assert len({h.chunk.doc_id for h in hits} & {NIRO, COPY_A, COPY_B}) >= 2 and not any(h.also_published for h in hits)
    index.close()
    assert build_index(settings).duplicate_groups == [[NIRO, COPY_A, COPY_B]]


def test_ask_json_and_the_source_cards_name_the_copies(planted, tmp_path, capsys):
    index_dir = tmp_path / "index"
    code = main(["index", "--corpus", str(planted), "--index", str(index_dir), "--model", "none", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and "Mehrfach veröffentlicht: 1 Dokumente mit 2 weiteren Kopien" in out
    args = ["--corpus", str(planted), "--index", str(index_dir), "--model", "none"]
    assert main(["ask", QUESTION, "--json", "--reader", "none", *args]) == 0
    data = json.loads(capsys.readouterr().out)
    cited = [c for c in data["citations"] if c["doc_id"] in {NIRO, COPY_A, COPY_B}]
    assert cited and all(c["doc_id"] == NIRO and c["also_published"] == [COPY_A, COPY_B] for c in cited)
    assert [h["doc_id"] for h in data["hits"]].count(NIRO) == 1
    assert not {COPY_A, COPY_B} & {h["doc_id"] for h in data["hits"]}
    assert main(["search", QUESTION, *args]) == 0
    assert f"auch veröffentlicht bei: {COPY_A}, {COPY_B}" in capsys.readouterr().out
    assistant = Assistant.open(settings_for(planted, index_dir))
    answer = assistant.ask(QUESTION)
    html = render_sources(source_entries(answer, assistant.index), 1, QUESTION, assistant.index)
    assert f"Auch veröffentlicht bei: {COPY_A}, {COPY_B}" in html
    assistant.index.close()


def test_answering_imports_no_build_libraries(planted, tmp_path):
    """Questions read the groups only: scipy.integrate/optimize (0.4 s of every cold `assistant
    ask`), torch and scikit-learn without models stay out (lightgbm's own scipy.sparse is
    needed); datasketch is only the tests' reference."""
    import subprocess
    import sys

    settings = settings_for(planted, tmp_path / "index")
    build_index(settings)
    code = (
        "import sys; from pathlib import Path; from assistant.config import Settings; "
        "from assistant.pipeline import Assistant; "
        f"a = Assistant.open(Settings(corpus_dir=Path({str(planted)!r}), index_dir=Path({str(tmp_path / 'index')!r}), "
        "model='none', reader='none', progress=False)); "
        f"assert a.ask({QUESTION!r}).citations; "
        "print(sorted({'datasketch', 'scipy.integrate', 'scipy.optimize', 'sklearn', 'torch'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout


def test_an_update_compares_only_its_documents_and_agrees_with_comparing_all(planted, tmp_path, monkeypatch):
    """Between base rebuilds an update keeps the groups and checks only its new and changed
    documents (and the rest of a group that lost one); the groups equal those of all pairs."""
    import random

    from assistant.index import duplicate_build

    words = (planted / WESTFALEN).read_text(encoding="utf-8").split()
    for i in range(80):  # other documents, so that these updates stay below the base rebuild
        shuffled = random.Random(i).sample(words, k=min(len(words), 120))
        (planted / "weitere" / f"{i:02d}.txt").parent.mkdir(exist_ok=True)
        (planted / "weitere" / f"{i:02d}.txt").write_text(" ".join(shuffled), encoding="utf-8")
    settings = settings_for(planted, tmp_path / "index")
    build_index(settings)
    compare_all = duplicate_build.find_groups

    def refused(*args: object) -> list[list[str]]:
        raise AssertionError("an update of a few documents compared all pairs")

    monkeypatch.setattr(duplicate_build, "find_groups", refused)

    def update_agrees() -> list[list[str]]:
        before = current_generation(tmp_path / "index")
        assert before is not None
        groups = build_index(settings).duplicate_groups
        index = load_index(tmp_path / "index")
        stored = Signatures.load(index.path)
        assert stored is not None and groups == compare_all(stored, index.documents.ids)
        # the signatures were appended to the previous generation's file (one inode), not rewritten
        signatures = index.path / duplicates.MINHASH_SIG
        assert signatures.stat().st_ino == (before / duplicates.MINHASH_SIG).stat().st_ino
        assert signatures.stat().st_size == len(index.documents.ids) * duplicates.NUM_PERM * 4
        index.close()
        return groups

    original = (planted / NIRO).read_text(encoding="utf-8")
    copy_c = planted / "verbund-c" / "kopie.txt"
    copy_c.parent.mkdir()
    copy_c.write_text(repost(original, "Verbund C", "4. November 2022", 70), encoding="utf-8")
    assert update_agrees() == [[NIRO, COPY_A, COPY_B, "verbund-c/kopie.txt"]]  # a new copy joins
    (planted / NIRO).write_text((planted / WESTFALEN).read_text(encoding="utf-8"), encoding="utf-8")
    # the canonical copy becomes another article: the rest stays a group, the changed one joins
    # its new twin (the same date: by id)
    assert update_agrees() == [[NIRO, WESTFALEN], [COPY_A, COPY_B, "verbund-c/kopie.txt"]]
    (planted / COPY_B).unlink()
    copy_c.unlink()  # one member left: no group
    assert update_agrees() == [[NIRO, WESTFALEN]]


def test_both_ways_of_finding_a_new_documents_candidates_agree(planted, tmp_path, monkeypatch):
    from assistant.index import duplicate_build

    build_index(settings_for(planted, tmp_path / "index"))
    index = load_index(tmp_path / "index")
    stored = Signatures.load(index.path)
    assert stored is not None
    numbers = sorted(index.documents.number.values())
    direct = duplicate_build._candidates_of(stored, numbers[:1])
    monkeypatch.setattr(duplicate_build, "FEW", 0)
    assert np.array_equal(direct, duplicate_build._candidates_of(stored, numbers[:1]))
    every = duplicate_build._candidates_of(stored, numbers)  # all pairs of the planted group
    monkeypatch.setattr(duplicate_build, "FEW", len(numbers))
    assert np.array_equal(every, duplicate_build._candidates_of(stored, numbers)) and len(every) >= 3
    index.close()
