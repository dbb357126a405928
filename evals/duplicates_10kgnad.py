"""Reposts on 10kGNAD (../shared/evaldata/10kgnad): are planted copies found, and nothing else?

Takes real news articles, plants reposts of some of them (another site's header and footer, a
few words changed, other line wrapping, now and then a sentence left out) and hard negatives
(the corpus's other articles of the same topic; articles that share one long boilerplate
footer), then prints, per shingle size and threshold, the pairs found, the false merges,
precision and recall, and the cost per document. Usage:

    python evals/duplicates_10kgnad.py [--articles 800] [--reposted 150] [--footer 100]
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.index import duplicates as dup

SITES = ["Cluster Nord", "Netzwerk Innovation Süd", "Technologieregion West", "Verbund Ost", "Kompetenznetz Mitte"]
FOOTER = (
    "Über das Netzwerk: Der Verbund bündelt seit 2008 die Kompetenzen von mehr als 120 Unternehmen, "
    "Hochschulen und Forschungseinrichtungen der Region. Gefördert wird die Clusterarbeit aus Mitteln "
    "des Landes und des Europäischen Fonds für regionale Entwicklung. Ansprechpartnerin für Presse und "
    "Mitgliedschaft ist die Geschäftsstelle, die Anfragen werktags von 9 bis 16 Uhr beantwortet. "
    "Datenschutz: Ihre Angaben werden ausschließlich zur Bearbeitung Ihrer Anfrage verwendet und nicht "
    "an Dritte weitergegeben. Impressum, Haftungsausschluss und Hinweise zu Cookies finden Sie auf der "
    "Internetseite des Verbunds. Newsletter abonnieren, Veranstaltungskalender, Mitglied werden, "
    "Kontakt aufnehmen, Stellenangebote der Mitglieder und Pressespiegel finden Sie ebenfalls dort. "
    "Alle Rechte vorbehalten; Nachdruck nur mit Quellenangabe und Belegexemplar."
)


def load_articles(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [(row[0], row[1]) for row in csv.reader(handle, delimiter=";", quotechar="'") if len(row) == 2]


def repost(text: str, rng: random.Random, site: str) -> str:
    """Another site's copy: own header and footer, a few words changed, other wrapping."""
    words = text.split()
    for _ in range(rng.randint(1, 4)):  # small edits: a word replaced or removed
        i = rng.randrange(len(words))
        if rng.random() < 0.5:
            words[i] = rng.choice(["sowie", "ebenfalls", "rund", "bereits", "nun"])
        else:
            del words[i]
    body = " ".join(words)
    if rng.random() < 0.3:  # a sentence left out
        sentences = body.split(". ")
        if len(sentences) > 4:
            del sentences[rng.randrange(1, len(sentences))]
            body = ". ".join(sentences)
    body = textwrap.fill(body, width=rng.choice([60, 72, 90, 120]))
    header = f"{site} – Aktuelles\nStartseite > Presse > Meldungen\nVeröffentlicht von der Redaktion {site}\n"
    footer = (
        f"\nKontakt: Geschäftsstelle {site}, presse@{site.split()[0].lower()}.de\n"
        f"Diese Meldung erschien zuerst bei einem Partnernetzwerk. © {site}. Impressum | Datenschutz"
    )
    return f"{header}\n{body}\n{footer}"


def corpus(args: argparse.Namespace) -> tuple[list[str], list[str], set[tuple[int, int]], list[str]]:
    """Texts, topic labels, the planted pairs (i < j), and a kind per text."""
    rng = random.Random(args.seed)
    articles = load_articles(args.data / "articles.csv")[: args.articles]
    texts = [t for _, t in articles]
    labels = [label for label, _ in articles]
    kinds = ["original"] * len(texts)
    planted: set[tuple[int, int]] = set()
    for source in rng.sample(range(len(articles)), args.reposted):
        group = [source]
        for site in rng.sample(SITES, rng.randint(1, 3)):
            texts.append(repost(articles[source][1], rng, site))
            labels.append(articles[source][0])
            kinds.append("repost")
            group.append(len(texts) - 1)
        planted.update((min(a, b), max(a, b)) for a in group for b in group if a != b)
    reposted = {i for pair in planted for i in pair}
    for i in rng.sample([i for i in range(len(articles)) if i not in reposted], args.footer):
        texts[i] = f"{texts[i]}\n\n{FOOTER}"  # one long boilerplate footer on different articles
        kinds[i] = "footer"
    return texts, labels, planted, kinds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "evaldata" / "10kgnad")
    parser.add_argument("--articles", type=int, default=800)
    parser.add_argument("--reposted", type=int, default=150)
    parser.add_argument("--footer", type=int, default=100)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    texts, labels, planted, kinds = corpus(args)
    print(
        f"{len(texts)} Dokumente: {args.articles} Artikel, {kinds.count('repost')} Reposts von {args.reposted}, "
        f"{kinds.count('footer')} mit gemeinsamer Fußzeile ({len(FOOTER.split())} Wörter); "
        f"{len(planted)} gepflanzte Paare"
    )
    for size in (3, 5, 7):
        started = time.perf_counter()
        sigs = [dup.signature(t, size) for t in texts]
        per_doc = (time.perf_counter() - started) * 1000 / len(texts)
        s = dup.Signatures(
            np.stack([g for g, _ in sigs]),
            np.asarray([c for _, c in sigs], dtype=np.int32),
            np.zeros(len(texts), dtype=np.int32),
        )
        started = time.perf_counter()
        pairs = dup._candidates(s)
        share = dup.shared_share(s, pairs)
        group_ms = (time.perf_counter() - started) * 1000
        truth = np.asarray([(a, b) in planted for a, b in pairs.tolist()], dtype=bool)
        same_topic = np.asarray([labels[a] == labels[b] for a, b in pairs.tolist()], dtype=bool)
        both_footer = np.asarray([kinds[a] == kinds[b] == "footer" for a, b in pairs.tolist()], dtype=bool)
        found_true = len(planted)
        print(
            f"\nSchindel {size} Wörter: {per_doc:.2f} ms je Dokument (MinHash), Kandidaten + Prüfung "
            f"{group_ms:.0f} ms; {len(pairs)} Kandidatenpaare, davon {int(truth.sum())} gepflanzt"
        )
        missed = found_true - int(truth.sum())
        print(f"  gepflanzte Paare, die nie Kandidat wurden: {missed}")
        if truth.any():
            print(
                f"  Anteil gemeinsamer Text, gepflanzt: min {share[truth].min():.3f}, "
                f"median {np.median(share[truth]):.3f}"
            )
        for name, mask in (("gleiches Thema", ~truth & same_topic), ("gemeinsame Fußzeile", ~truth & both_footer)):
            top = share[mask].max() if mask.any() else 0.0
            print(f"  Anteil gemeinsamer Text, {name} (kein Repost): max {top:.3f} ({int(mask.sum())} Kandidaten)")
        for threshold in (0.3, 0.4, 0.5, 0.6, 0.7):
            groups = _groups(pairs[share >= threshold], len(texts))
            found = {(a, b) for g in groups for a in g for b in g if a < b}
            right = len(found & planted)
            wrong = len(found) - right
            precision = right / len(found) if found else 1.0
            print(
                f"  Schwelle {threshold:.1f}: {len(groups)} Gruppen, {right} von {found_true} Paaren gefunden "
                f"(Recall {right / found_true:.4f}), {wrong} falsch zusammengeführt (Präzision {precision:.4f})"
            )
    return 0


def _groups(pairs: np.ndarray, n: int) -> list[list[int]]:
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs.tolist():
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[int, list[int]] = {}
    for i in {x for pair in pairs.tolist() for x in pair}:
        members.setdefault(root(i), []).append(i)
    return list(members.values())


if __name__ == "__main__":
    sys.exit(main())
