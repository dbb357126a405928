"""Candidate sentence features tried against the shipped ones, by the cross-validated sentence
accuracy of train.py (conditional logit, 5-fold GroupKFold by article): does the best-scored
sentence contain a gold answer, end to end (lexical top 5) and with the gold passage given.

    pip install .[experiments]     # simplemma, wordfreq
    apt-get download openthesaurus-de-text && dpkg -x openthesaurus-de-text_*.deb /tmp/othes
    .venv/bin/python evals/ranker/sentence_experiments.py \
        [--thesaurus /tmp/othes/usr/share/openthesaurus-de/openthesaurus.txt]

Each variant adds columns to the shipped features and is fitted and scored on the same folds;
the report is evals/ranker/SENTENCE_EXPERIMENTS.md. None of these ships: the figures there say why.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
for folder in (ROOT, Path(__file__).resolve().parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from data import Item, Pool, load_items
from train import fit_listwise, group_folds, sentence_accuracy_cv, stack_pools

from assistant.answer.ranker import top_indices
from assistant.answer.sentence_features import SENTENCE_FEATURE_NAMES, _found, _parse
from assistant.index.bm25 import LexicalIndex

NAMES = list(SENTENCE_FEATURE_NAMES)
# A sentence opening with a pronoun or a connective continues the previous one ("Ihr zufolge …",
# "Solche Parteien …"): the answer often stands right after the sentence that matches the question.
ANAPHOR = re.compile(
    r"^\W*(Er|Sie|Es|Ihr|Ihre[mnrs]?|Sein|Seine[mnrs]?|Dies(e[mnrs]?)?|Das|Der|Die|Solche|Dort|Damit|"
    r"Dabei|Daher|Deshalb|Hier|Dadurch|Danach|So|Zudem|Außerdem|Aufgrund)\b"
)
Extra = Callable[[Item, Pool], np.ndarray]


def thesaurus_stems(path: Path, lexical: LexicalIndex) -> dict[str, set[str]]:
    """Index term -> the index terms of its OpenThesaurus synonyms (one-word entries only)."""
    analyzer = lexical.analyzer
    synonyms: dict[str, set[str]] = {}
    for line in path.open(encoding="utf-8"):
        if line.startswith("#"):
            continue
        words = [re.sub(r"\(.*?\)", "", w).strip().lower() for w in line.strip().split(";")]
        stems = {t for w in words if w and " " not in w for t in analyzer.terms_of_word(w)}
        for stem in stems:
            synonyms.setdefault(stem, set()).update(stems - {stem})
    return synonyms


def lexical_extras(lexical: LexicalIndex, synonyms: dict[str, set[str]]) -> Extra:
    """Per sentence: IDF coverage also counting lemmas (simplemma: starb ~ sterben, Männer ~
    Mann), and its gain over exact coverage; the same with thesaurus synonyms; coverage
    weighted by general-language rarity (wordfreq Zipf) instead of the corpus IDF."""
    import simplemma
    import wordfreq

    lemmas: dict[str, str] = {}

    def lemma(word: str) -> str:
        if word not in lemmas:
            lemmas[word] = simplemma.lemmatize(word, lang="de").lower()
        return lemmas[word]

    def extra(item: Item, pool: Pool) -> np.ndarray:
        q = item.question
        surface = {w.lower(): w for w in re.findall(r"\w+", q.text)}
        q_lemmas = [lemma(surface.get(t.word, t.word)) for t in q.terms]
        q_synonyms = [synonyms.get(t.stem, set()) for t in q.terms]
        rarity = [max(0.0, 7.5 - wordfreq.zipf_frequency(t.word, "de")) for t in q.terms]
        total, rare_total = q.total_idf, sum(rarity) or 1.0
        rows = []
        for s in pool.sentences:
            parsed = _parse(s.text, lexical)
            found = _found(q, parsed)[0]
            s_lemmas = {lemma(w) for w in re.findall(r"\w+", s.text)}
            by_lemma = [f or ql in s_lemmas for f, ql in zip(found, q_lemmas, strict=True)]
            by_synonym = [f or bool(qs & parsed.terms) for f, qs in zip(found, q_synonyms, strict=True)]

            def cov(hits: list[bool]) -> float:
                return sum(t.idf for t, hit in zip(q.terms, hits, strict=True) if hit) / total

            exact = cov(found)
            rows.append(
                [
                    cov(by_lemma),
                    cov(by_lemma) - exact,
                    cov(by_synonym),
                    cov(by_synonym) - exact,
                    sum(r for r, hit in zip(rarity, found, strict=True) if hit) / rare_total,
                ]
            )
        return np.asarray(rows, dtype=np.float32).reshape(len(pool.sentences), 5)

    return extra


def context_extras(item: Item, pool: Pool) -> np.ndarray:
    """Per sentence: the previous / next sentence of its passage relative to the pool's best
    coverage, whether that one is the best, an opening pronoun or connective, and products."""
    cov = pool.features[:, NAMES.index("cov_local")]
    type_match = pool.features[:, NAMES.index("type_match")]
    best = float(cov.max()) if len(cov) else 0.0
    rows = []
    for i, s in enumerate(pool.sentences):
        has_prev = i > 0 and pool.sentences[i - 1].group == s.group
        has_next = i + 1 < len(pool.sentences) and pool.sentences[i + 1].group == s.group
        prev_rel = float(cov[i - 1]) / best if has_prev and best > 0 else 0.0
        next_rel = float(cov[i + 1]) / best if has_next and best > 0 else 0.0
        prev_best = float(has_prev and best > 0 and cov[i - 1] >= best)
        anaphor = float(bool(ANAPHOR.match(s.text)))
        rows.append(
            [prev_rel, next_rel, prev_best, float(has_next and best > 0 and cov[i + 1] >= best), anaphor]
            + [prev_best * float(type_match[i]), prev_best * anaphor, anaphor * prev_rel]
        )
    return np.asarray(rows, dtype=np.float32).reshape(len(pool.sentences), 8)


LEXICAL = ["lemma_cov", "lemma_gain", "synonym_cov", "synonym_gain", "rarity_cov"]
CONTEXT = ["prev_rel", "next_rel", "prev_is_best", "next_is_best", "anaphor", "prev_best_x_type"]
CONTEXT += ["prev_best_x_anaphor", "anaphor_x_prev_rel"]
VARIANTS: dict[str, list[str]] = {
    "shipped features": [],
    "+ lemma coverage (simplemma)": ["lemma_cov", "lemma_gain"],
    "+ synonym coverage (OpenThesaurus)": ["synonym_cov", "synonym_gain"],
    "+ lemmas and synonyms": ["lemma_cov", "lemma_gain", "synonym_cov", "synonym_gain"],
    "+ rarity-weighted coverage (wordfreq)": ["rarity_cov"],
    "+ neighbour / anaphor context": CONTEXT,
    "+ all of them": LEXICAL + CONTEXT,
}


def error_breakdown(items: list[Item]) -> None:
    """Out of fold, shipped features, end to end: where the gold sentence stands when the best-
    scored one is wrong, and how its local coverage compares with the chosen one's."""
    cov = NAMES.index("cov_local")
    counts = {"right": 0, "no gold sentence in the pool": 0, "gold covers less": 0, "gold covers as much": 0}
    counts["gold covers more"] = 0
    ranks: list[int] = []
    for train, test in group_folds(items, 5):
        model = fit_listwise(*stack_pools([items[i] for i in train]), NAMES)
        for i in test:
            pool = items[i].e2e
            if not len(pool.sentences) or not pool.label.any():
                counts["no gold sentence in the pool"] += 1
                continue
            order = top_indices(model.score(pool.features), len(pool.sentences))
            rank = next(r for r, j in enumerate(order) if pool.label[j])
            ranks.append(rank)
            if rank == 0:
                counts["right"] += 1
                continue
            chosen, gold = pool.features[order[0], cov], pool.features[order[rank], cov]
            key = "gold covers less" if gold < chosen - 1e-6 else "gold covers more" if gold > chosen + 1e-6 else ""
            counts[key or "gold covers as much"] += 1
    print("\n" + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    ranked = np.array(ranks)
    print(", ".join(f"gold in the top {k}: {np.sum(ranked < k) / len(items):.3f}" for k in (1, 2, 3, 5, 10)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "evaldata" / "germanquad")
    parser.add_argument(
        "--thesaurus", type=Path, default=Path("/tmp/othes/usr/share/openthesaurus-de/openthesaurus.txt")
    )
    args = parser.parse_args(argv)
    items, assistant = load_items(args.data)
    lexical = assistant.index.lexical
    lexical_extra = lexical_extras(lexical, thesaurus_stems(args.thesaurus, lexical))
    shipped = {it.qid: (it.e2e.features, it.oracle.features) for it in items}
    extra: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for it in items:
        pools = (it.e2e, it.oracle)
        extra[it.qid] = tuple(  # type: ignore[assignment]
            np.hstack([lexical_extra(it, p), context_extras(it, p)]) for p in pools
        )
    names = LEXICAL + CONTEXT
    print("| features | end to end | gold passage |\n|---|---|---|")
    for label, added in VARIANTS.items():
        columns = [names.index(n) for n in added]
        for it in items:
            (e2e, oracle), (e2e_extra, oracle_extra) = shipped[it.qid], extra[it.qid]
            it.e2e.features = np.hstack([e2e, e2e_extra[:, columns]])
            it.oracle.features = np.hstack([oracle, oracle_extra[:, columns]])
        fitted = NAMES + added
        result = sentence_accuracy_cv(items, lambda X, y, g, fitted=fitted: fit_listwise(X, y, g, fitted))
        print(f"| {label} | {result['e2e']:.4f} | {result['oracle']:.4f} |", flush=True)
    for it in items:
        it.e2e.features, it.oracle.features = shipped[it.qid]
    error_breakdown(items)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
