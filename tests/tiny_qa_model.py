"""Build a tiny, real extractive question-answering model offline for tests.

A two-layer ``BertForQuestionAnswering`` (hidden size 32) with a WordPiece vocabulary made of
the words of German sentences, as in :mod:`tiny_model`, saved with its tokenizer to a folder
that ``AutoModelForQuestionAnswering`` loads like any hub model. With ``train=True`` (the
default) it is then trained for a few hundred steps on synthetic questions of one kind, "Wann
fand das Jahrestreffen statt?" over a sentence with one German date ("am 20. Oktober 2022")
among other sentences, and on passages without a date, whose answer is ``[CLS]`` (nothing). It
then finds the date in passages it has not seen, and its scores say that a passage without a
date holds no answer. Seeded and run on one thread: the same folder every time, in a few
seconds on a CPU.
"""

from __future__ import annotations

import pathlib
import random

import torch
from tiny_model import _build_tokenizer
from transformers import BertConfig, BertForQuestionAnswering, BertTokenizerFast

SEED = 4321
HIDDEN = 32
STEPS = 150
BATCH = 32

EVENTS = [
    "das Jahrestreffen",
    "die Mitgliederversammlung",
    "der Workshop",
    "die Konferenz",
    "das Netzwerktreffen",
    "der Innovationstag",
    "die Preisverleihung",
    "die Fachtagung",
    "der Gründertag",
    "das Sommerfest",
]
ORGANISERS = ["von go-cluster", "des Clusters", "des Netzwerks", "der Hochschule", ""]
PLACES = ["Berlin", "Stuttgart", "Hamburg", "München", "Köln", "Leipzig", "Dresden", "Bremen"]
MONTHS = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
]
YEARS = list(range(2015, 2027))
# Sentences without a date, around the one that has it (and passages of their own).
FILLER = [
    "Das Förderprogramm unterstützt kleine und mittlere Unternehmen bei Innovationsprojekten.",
    "Die Förderquote beträgt bis zu 50 Prozent der förderfähigen Kosten.",
    "Zur Veranstaltung laden wir alle Mitglieder herzlich ein.",
    "Beim Netzwerktreffen stellen Start-ups ihre Lösungen für die Industrie vor.",
    "Das Clustermanagement veröffentlicht jeden Monat einen Newsletter.",
    "Nachhaltigkeit ist ein zentrales Ziel unserer Mitgliedsunternehmen.",
    "Künstliche Intelligenz verändert die Arbeit in der Fertigung.",
    "Die Hochschule kooperiert mit regionalen Unternehmen bei der Forschung.",
    "Fachkräfte werden in Weiterbildungen für neue Technologien geschult.",
    "Weitere Informationen finden Sie auf der Webseite des Clusters.",
    "Die Anmeldung ist kostenlos.",
    "Über die Plattform tauschen sich Mitglieder zu Best Practices aus.",
]


def _event_sentence(rng: random.Random, event: str, organiser: str, when: str) -> str:
    place = rng.choice(PLACES)
    subject = f"{event} {organiser}".strip()
    forms = [
        f"{subject[0].upper()}{subject[1:]} fand am {when} in {place} statt.",
        f"Am {when} fand {subject} in {place} statt.",
        f"{subject[0].upper()}{subject[1:]} findet am {when} in {place} statt.",
        f"In {place} fand am {when} {subject} statt.",
    ]
    return rng.choice(forms)


def example(rng: random.Random, with_date: bool = True) -> tuple[str, str, str]:
    """One ``(question, context, answer)``; the answer is "" when the context has no date."""
    event, organiser = rng.choice(EVENTS), rng.choice(ORGANISERS)
    question = f"Wann {rng.choice(['fand', 'findet'])} {event} {organiser}".strip() + " statt?"
    sentences = rng.sample(FILLER, rng.randint(1, 3))
    answer = ""
    if with_date:
        answer = f"{rng.randint(1, 28)}. {rng.choice(MONTHS)} {rng.choice(YEARS)}"
        sentences.insert(rng.randint(0, len(sentences)), _event_sentence(rng, event, organiser, answer))
    return question, " ".join(sentences), answer


def _vocabulary_sentences() -> list[str]:
    words = [*EVENTS, *ORGANISERS, *PLACES, *MONTHS, *map(str, YEARS), *map(str, range(1, 32))]
    return [*FILLER, " ".join(words), "Wann fand findet am in statt? . Am In"]


def _targets(tokenizer: BertTokenizerFast, batch: list[tuple[str, str, str]]) -> dict[str, torch.Tensor]:
    encoded = tokenizer(
        [q for q, _, _ in batch], [c for _, c, _ in batch], padding=True, truncation="only_second", max_length=128
    )
    starts, ends = [], []
    for i, (_, context, answer) in enumerate(batch):
        if not answer:
            starts.append(0)
            ends.append(0)
            continue
        first = context.index(answer)
        starts.append(encoded.char_to_token(i, first, sequence_index=1))
        ends.append(encoded.char_to_token(i, first + len(answer) - 1, sequence_index=1))
    tensors = {k: torch.tensor(v) for k, v in encoded.items()}
    tensors["start_positions"] = torch.tensor(starts)
    tensors["end_positions"] = torch.tensor(ends)
    return tensors


def build_tiny_qa_model(target_dir: pathlib.Path, train: bool = True, steps: int = STEPS) -> pathlib.Path:
    """Build the tiny QA model (trained unless ``train=False``) and save it to ``target_dir``."""
    target_dir = pathlib.Path(target_dir)
    tokenizer = _build_tokenizer(_vocabulary_sentences())
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        pad_token_id=tokenizer.pad_token_id,
    )
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # the same float sums, hence the same weights, on every machine
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED)
            model = BertForQuestionAnswering(config)
            if train:
                rng = random.Random(SEED)
                optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
                model.train()
                for _ in range(steps):
                    batch = [example(rng, with_date=rng.random() < 0.75) for _ in range(BATCH)]
                    loss = model(**_targets(tokenizer, batch)).loss
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
            model.eval()
    finally:
        torch.set_num_threads(threads)
    model.save_pretrained(target_dir)
    tokenizer.save_pretrained(target_dir)
    return target_dir
