"""Build a tiny, real sentence-transformers model offline for tests.

The model is a randomly initialised two-layer BERT (hidden size 32) with an
uncased, umlaut-preserving WordPiece vocabulary built from a few German
sentences, wrapped in a ``SentenceTransformer`` (Transformer + mean Pooling).
It needs no network access, builds in well under a second on CPU and is
deterministic: the same sentences always give the same vocabulary, weights
and embeddings.

Plain random BERT weights make every mean-pooled embedding nearly identical
(cosine ~0.95), because position/segment embeddings and [CLS]/[SEP] are shared
by all inputs. ``_make_lexical`` removes those shared parts, so the embedding
behaves like a bag of near-orthogonal word vectors: texts sharing words score
higher than unrelated ones. With only 32 dimensions this holds on average
rather than for every pair; chance similarity is about +-0.2 once the
vocabulary is much larger than 32 words.
"""

from __future__ import annotations

import pathlib
import tempfile

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
from tokenizers.normalizers import BertNormalizer
from tokenizers.pre_tokenizers import BertPreTokenizer
from transformers import BertConfig, BertModel, BertTokenizerFast

EMBEDDING_DIM = 32
SEED = 1234

DEFAULT_SENTENCES: list[str] = [
    "Das Förderprogramm unterstützt kleine und mittlere Unternehmen bei Innovationsprojekten.",
    "Anträge für das Förderprogramm können bis zum 31. März 2025 eingereicht werden.",
    "Die Förderquote beträgt bis zu 50 Prozent der förderfähigen Kosten.",
    "Gefördert werden Forschungs- und Entwicklungsvorhaben mit einer Laufzeit von höchstens drei Jahren.",
    "Das Bundesministerium für Wirtschaft und Klimaschutz finanziert das Programm.",
    "Die Projektskizze umfasst maximal zehn Seiten und enthält einen Finanzierungsplan.",
    "Der Zuwendungsbescheid wird nach Prüfung durch den Projektträger erteilt.",
    "Die nächste Veranstaltung des Clusters findet am 12. Juni 2025 in Stuttgart statt.",
    "Zur Cluster-Veranstaltung über Wasserstoff laden wir alle Mitglieder herzlich ein.",
    "Die Anmeldung zur Veranstaltung ist bis zum 1. Juni kostenlos möglich.",
    "Beim Netzwerktreffen stellen Start-ups ihre Lösungen für die Industrie vor.",
    "Der Workshop zur Digitalisierung beginnt um 9:30 Uhr im Konferenzraum.",
    "Das Clustermanagement veröffentlicht jeden Monat einen Newsletter mit Terminen.",
    "Die Jahreskonferenz des Innovationsclusters dauert zwei Tage.",
    "Nachhaltigkeit ist ein zentrales Ziel unserer Mitgliedsunternehmen.",
    "Der Nachhaltigkeitsbericht beschreibt die Reduktion der CO2-Emissionen.",
    "Unternehmen investieren in erneuerbare Energien und Kreislaufwirtschaft.",
    "Die Strategie zur Nachhaltigkeit verbindet Ökologie, Ökonomie und soziale Verantwortung.",
    "Energieeffizienz in der Produktion senkt Kosten und schont das Klima.",
    "Künstliche Intelligenz verändert die Arbeit in der Fertigung.",
    "Die Hochschule kooperiert mit regionalen Unternehmen bei der Forschung.",
    "Fachkräfte werden in Weiterbildungen für neue Technologien geschult.",
    "Der Vorstand hat am 15. Januar 2024 den Haushalt beschlossen.",
    "Das Protokoll der Mitgliederversammlung liegt als PDF vor.",
    "Die Frist für den Verwendungsnachweis endet am 30. September.",
    "Ansprechpartnerin für Fragen zur Förderung ist Frau Müller.",
    "Weitere Informationen finden Sie auf der Webseite des Clusters.",
    "Die Geschäftsstelle ist montags bis freitags von 8 bis 16 Uhr erreichbar.",
    "Im Jahr 2023 wurden 42 Projekte mit insgesamt 3,5 Millionen Euro gefördert.",
    "Die Ausschreibung richtet sich an Verbünde aus Wirtschaft und Wissenschaft.",
    "Mobilität der Zukunft: Elektrofahrzeuge und intelligente Verkehrssysteme.",
    "Die Gesundheitswirtschaft profitiert von digitalen Anwendungen in Kliniken.",
    "Über die Plattform tauschen sich Mitglieder zu Best Practices aus.",
    "Größere Unternehmen übernehmen häufig eine Mentorenrolle für Gründerinnen.",
    "Die Bewertung der Anträge erfolgt durch ein unabhängiges Gutachtergremium.",
    "Bitte reichen Sie alle Unterlagen vollständig und fristgerecht ein.",
]

_SPECIAL_TOKENS: list[str] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _build_tokenizer(sentences: list[str]) -> BertTokenizerFast:
    """Uncased WordPiece tokenizer whose vocabulary is exactly the words of ``sentences``.

    Words are found with BERT's own normalizer and pre-tokenizer (lowercasing, but
    keeping umlauts). Unseen words become a single ``[UNK]``; sub-word pieces are
    left out on purpose, since many shared one-letter pieces would make texts with
    unseen words look alike. ``tokenizers``' WordPieceTrainer is not used because
    its tie-breaking varies between processes, so vocabulary and embeddings would
    not be reproducible.
    """
    normalizer = BertNormalizer(lowercase=True, strip_accents=False)
    pre_tokenizer = BertPreTokenizer()
    words = sorted(
        {word for text in sentences for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))}
    )
    return BertTokenizerFast(
        vocab={token: index for index, token in enumerate([*_SPECIAL_TOKENS, *words])},
        do_lower_case=True,
        strip_accents=False,
        model_max_length=512,
    )


@torch.no_grad()
def _make_lexical(bert: BertModel, tokenizer: BertTokenizerFast) -> None:
    """Drop the input-independent parts of the embeddings (see module docstring).

    Word vectors are made orthogonal (exactly so for vocabularies of up to 32
    tokens) to reduce chance similarity between different words; the QR runs in
    float64 so that the float32 result does not depend on the thread count.
    [SEP] becomes the negation of [CLS]; LayerNorm keeps the sign, so the two
    largely cancel out in the mean pooling instead of pulling all texts together.
    """
    embeddings = bert.embeddings
    embeddings.position_embeddings.weight.zero_()
    embeddings.token_type_embeddings.weight.zero_()
    words = embeddings.word_embeddings.weight
    words.copy_(torch.nn.init.orthogonal_(torch.empty(words.shape, dtype=torch.float64)))
    words[tokenizer.sep_token_id] = -words[tokenizer.cls_token_id]


def build_tiny_model(target_dir: pathlib.Path, sentences: list[str] | None = None) -> pathlib.Path:
    """Build the tiny model from ``sentences`` (default: German cluster texts) and save it to ``target_dir``."""
    target_dir = pathlib.Path(target_dir)
    tokenizer = _build_tokenizer(sentences or DEFAULT_SENTENCES)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=EMBEDDING_DIM,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        bert = BertModel(config)
        _make_lexical(bert, tokenizer)

    with tempfile.TemporaryDirectory(prefix="tiny-bert-") as hf_dir:
        bert.save_pretrained(hf_dir)
        tokenizer.save_pretrained(hf_dir)
        transformer = Transformer(hf_dir)
        pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
        model = SentenceTransformer(modules=[transformer, pooling], device="cpu")
        model.save(str(target_dir), create_model_card=False)
    return target_dir
