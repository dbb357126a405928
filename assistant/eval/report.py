"""The evaluation report: report.md (PNG plots beside it) and report.html (plots embedded as
base64, opens offline in any browser). Input is the ``metrics.json`` dict of
:func:`assistant.eval.run.evaluate`; the plain-text comparison table is here too."""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

TABLE_COLUMNS = (
    ("hit@1", "hit@1"),
    ("hit@5", "hit@5"),
    ("hit@10", "hit@10"),
    ("mrr@10", "MRR@10"),
    ("ndcg@10", "nDCG@10"),
    ("containment", "contain"),
    ("exact_match", "EM"),
    ("token_f1", "F1"),
    ("median_answer_chars", "chars"),
    ("citation_precision", "cit.prec"),
    ("abstention_precision", "abst.P"),
    ("abstention_recall", "abst.R"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
)


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"
    return str(value)


def table_rows(metrics: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["variant", "n", *(label for _, label in TABLE_COLUMNS)]
    rows = [
        [v["name"], str(v["overall"]["questions"]), *(fmt(v["overall"].get(key)) for key, _ in TABLE_COLUMNS)]
        for v in metrics["variants"]
    ]
    return header, rows


def comparison_table(metrics: dict[str, Any]) -> str:
    """The variants side by side as a plain-text table."""
    header, rows = table_rows(metrics)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=False)))
        for r in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


PLOTS = {"hit_at_k": "hit_at_k.png", "groups": "by_group.png", "latency": "latency.png"}
GROUP_COLUMNS = (
    ("questions", "n"),
    ("hit@1", "hit@1"),
    ("hit@5", "hit@5"),
    ("mrr@10", "MRR@10"),
    ("containment", "contain"),
    ("exact_match", "EM"),
    ("token_f1", "F1"),
    ("citation_precision", "cit.prec"),
    ("abstention_recall", "abst.R"),
    ("correct", "correct"),
    ("latency_p50_ms", "p50 ms"),
)
DEFINITIONS = (
    (
        "hit@k, MRR@10, nDCG@10: documents ranked by their first appearance in the retrieved passages; "
        "relevant = listed in `sources` (binary); over answerable questions with sources."
    ),
    (
        "contain: the normalized answer (case, whitespace, punctuation, hyphens) contains a gold answer; "
        "EM / F1: exact match and token F1 of the short answer (the whole answer where none is given) "
        "against the best gold answer, German articles and [n] removed; all 0 when the assistant "
        "abstained; over answerable questions. chars: median answer length without markers."
    ),
    "cit.prec: share of cited documents that are gold sources (answered questions with citations).",
    (
        "abst.P / abst.R: of the abstentions, the share on unanswerable questions / of the unanswerable "
        "questions, the share abstained (abst.P only when the test set has unanswerable questions)."
    ),
    "correct: answerable and contained, or unanswerable and abstained (all questions).",
)


def write_reports(
    metrics: dict[str, Any], out_dir: Path, latencies: Mapping[str, Sequence[float]] | None = None
) -> list[Path]:
    """Write the plots, report.md and report.html into ``out_dir``; returns the paths."""
    out_dir = Path(out_dir)
    plots = make_plots(metrics, out_dir, latencies or {})
    md = out_dir / "report.md"
    md.write_text(render_markdown(metrics, {k: p.name for k, p in plots.items()}), encoding="utf-8")
    page = out_dir / "report.html"
    images = {k: "data:image/png;base64," + base64.b64encode(p.read_bytes()).decode("ascii") for k, p in plots.items()}
    page.write_text(render_html(metrics, images), encoding="utf-8")
    return [*plots.values(), md, page]


# --- plots -----------------------------------------------------------------------------------


def make_plots(metrics: dict[str, Any], out_dir: Path, latencies: Mapping[str, Sequence[float]]) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = metrics["variants"]
    paths: dict[str, Path] = {}

    fig, ax = plt.subplots(figsize=(7, 4))
    for v in variants:
        curve = v["hit_curve"]
        if any(x is not None for x in curve):
            ax.plot(
                range(1, len(curve) + 1),
                [x if x is not None else float("nan") for x in curve],
                marker="o",
                markersize=3,
                label=v["name"],
            )
    ax.set_xlabel("k (documents)")
    ax.set_ylabel("hit@k")
    ax.set_title("Gold document among the first k documents")
    lowest = min((x for v in variants for x in v["hit_curve"] if x is not None), default=0.0)
    ax.set_ylim(max(0.0, math.floor((lowest - 0.05) * 10) / 10), 1.01)
    ax.grid(alpha=0.3)
    if len(variants) > 1:
        ax.legend(fontsize=8)
    paths["hit_at_k"] = _save(fig, out_dir / PLOTS["hit_at_k"])

    field = metrics["group_fields"][0] if metrics.get("group_fields") else None
    labels = list(variants[0]["groups"][field]) if field else ["all"]
    width_in = min(14.0, max(7.0, 0.9 * len(labels) * len(variants) + 3))
    fig, axes = plt.subplots(1, 2, figsize=(width_in, 4.5 + 0.25 * (len(variants) - 1)), sharey=True)
    width = 0.8 / len(variants)
    for ax, (key, title) in zip(axes, (("hit@5", "hit@5 (answerable)"), ("correct", "correct (all)")), strict=False):
        for i, v in enumerate(variants):
            values = [(v["groups"][field].get(label, {}) if field else v["overall"]).get(key) for label in labels]
            xs = [j + (i - (len(variants) - 1) / 2) * width for j in range(len(labels))]
            bars = ax.bar(xs, [x or 0.0 for x in values], width, label=v["name"])
            for bar, value in zip(bars, values, strict=False):
                ax.annotate(
                    fmt(value) if value is not None else "–",
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                )
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        ax.set_title(title)
        ax.set_ylim(0, 1.1)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"By {field}" if field else "Overall")
    if len(variants) > 1:
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="lower center", ncol=min(len(variants), 3), fontsize=8)
        fig.tight_layout(rect=(0, 0.06 * ((len(variants) + 2) // 3), 1, 1))
    paths["groups"] = _save(fig, out_dir / PLOTS["groups"], layout=len(variants) == 1)

    fig, ax = plt.subplots(figsize=(7, 4))
    for v in variants:
        values = list(latencies.get(v["name"], ()))
        if values:
            _, _, patches = ax.hist(values, bins=40, histtype="step", linewidth=1.5, label=v["name"])
            p95 = v["overall"].get("latency_p95_ms")
            if p95 is not None:
                colour = patches[0].get_edgecolor() if isinstance(patches, list) else None  # type: ignore[union-attr]
                ax.axvline(p95, linestyle="--", linewidth=0.8, color=colour)
    ax.set_xlabel("latency per question (ms); dashed: p95")
    ax.set_ylabel("questions")
    ax.set_title("Latency distribution")
    ax.grid(alpha=0.3)
    if len(variants) > 1:
        ax.legend(fontsize=8)
    paths["latency"] = _save(fig, out_dir / PLOTS["latency"])
    return paths


def _save(fig: Any, path: Path, layout: bool = True) -> Path:
    import matplotlib.pyplot as plt

    if layout:
        fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# --- markdown --------------------------------------------------------------------------------


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(cell(h) for h in header) + " |",
        "| " + " | ".join("---" if i == 0 else "---:" for i in range(len(header))) + " |",
    ]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def group_table(variant: dict[str, Any], field: str) -> tuple[list[str], list[list[str]]]:
    header = [field, *(label for _, label in GROUP_COLUMNS)]
    rows = [[value, *(fmt(m.get(key)) for key, _ in GROUP_COLUMNS)] for value, m in variant["groups"][field].items()]
    rows.append(["(all)", *(fmt(variant["overall"].get(key)) for key, _ in GROUP_COLUMNS)])
    return header, rows


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_markdown(metrics: dict[str, Any], images: dict[str, str]) -> str:
    variants = metrics["variants"]
    out = [
        f"# Evaluation: {metrics['testset']}",
        "",
        (
            f"{metrics['questions']} questions, k = {metrics['k']}, {len(variants)} variant(s), "
            f"{metrics['seconds']:.1f} s in all."
        ),
        "",
        "## Variants",
        "",
        _md_table(*table_rows(metrics)),
        "",
    ]
    for v in variants:
        index = v["index"]
        built = f", rebuilt: {index['built']}" if index.get("built") else ""
        out.append(
            f"- **{v['name']}**: retrieval {v['effective_mode']} (set: {v['settings']['retrieval']}), "
            f"model {v['settings']['model']}, chunks {v['settings']['chunk_size']}/"
            f"{v['settings']['chunk_overlap']}, top_k {v['settings']['top_k']}; index {index['dir']} "
            f"({index.get('documents')} documents, {index.get('chunks')} chunks{built}); "
            f"{v['seconds']:.1f} s; results `{v['results']}`"
        )
        for warning in v.get("warnings", []):
            out.append(f"  - warning: {warning}")
    out += ["", "## Retrieval: hit@k", "", f"![hit@k]({images['hit_at_k']})", ""]
    for field in metrics.get("group_fields", []):
        out += [f"## By {field}", ""]
        for v in variants:
            if len(variants) > 1:
                out += [f"**{v['name']}**", ""]
            out += [_md_table(*group_table(v, field)), ""]
    out += [f"![by group]({images['groups']})", "", "## Latency", ""]
    out += [
        f"- {v['name']}: p50 {fmt(v['overall']['latency_p50_ms'])} ms, p95 {fmt(v['overall']['latency_p95_ms'])} ms"
        for v in variants
    ]
    out += ["", f"![latency]({images['latency']})", "", "## Worst misses", ""]
    for v in variants:
        if len(variants) > 1:
            out += [f"### {v['name']}", ""]
        if not v["worst"]:
            out += ["None: every question was answered correctly.", ""]
        for n, miss in enumerate(v["worst"], start=1):
            out += [
                f"{n}. **{miss['id']}** ({miss['kind']}): {_short(miss['question'])}",
                (
                    f"   - expected: {' / '.join(miss['expected']) or '(abstain)'}; "
                    f"sources: {', '.join(miss['expected_sources']) or '–'}"
                ),
                f"   - answer: {_short(miss['answer'])}",
                (
                    f"   - cited: {', '.join(miss['cited']) or '–'}; retrieved: {', '.join(miss['retrieved']) or '–'}"
                    f" (gold rank {fmt(miss['gold_rank'])}, F1 {fmt(miss['f1'])})"
                ),
            ]
        out.append("")
    out += ["## Definitions", "", *(f"- {d}" for d in DEFINITIONS), ""]
    return "\n".join(out)


# --- html ------------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1150px;
color:#222;line-height:1.45;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left;max-width:22rem;overflow-wrap:anywhere}
.scroll{overflow-x:auto}img{max-width:100%;border:1px solid #eee}
.miss{margin:.5rem 0 .9rem;font-size:.9rem}.miss .q{font-weight:600}.muted{color:#666;font-size:.85rem}
.kind{display:inline-block;background:#fde8e8;color:#8a1f1f;border-radius:3px;padding:0 .3rem;font-size:.8rem}
"""


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def render_html(metrics: dict[str, Any], images: dict[str, str]) -> str:
    e = html.escape
    variants = metrics["variants"]
    parts = [
        (
            f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Evaluation: "
            f"{e(metrics['testset'])}</title><style>{CSS}</style></head><body>"
        ),
        f"<h1>Evaluation: {e(metrics['testset'])}</h1>",
        (
            f"<p>{metrics['questions']} questions, k = {metrics['k']}, {len(variants)} variant(s), "
            f"{metrics['seconds']:.1f} s in all.</p>"
        ),
        "<h2>Variants</h2>",
        _html_table(*table_rows(metrics)),
        "<ul>",
    ]
    for v in variants:
        s, index = v["settings"], v["index"]
        parts.append(
            f"<li><b>{e(v['name'])}</b>: retrieval {e(v['effective_mode'])} (set: {e(s['retrieval'])}), "
            f"model {e(s['model'])}, chunks {e(s['chunk_size'])}/{e(s['chunk_overlap'])}, top_k {e(s['top_k'])};"
            f" index {e(index['dir'])} ({index.get('documents')} documents, {index.get('chunks')} chunks); "
            f"{v['seconds']:.1f} s"
            + "".join(f"<br><span class='muted'>warning: {e(w)}</span>" for w in v.get("warnings", []))
            + "</li>"
        )
    parts += ["</ul>", "<h2>Retrieval: hit@k</h2>", f"<img alt='hit@k curve' src='{images['hit_at_k']}'>"]
    for field in metrics.get("group_fields", []):
        parts.append(f"<h2>By {e(field)}</h2>")
        for v in variants:
            if len(variants) > 1:
                parts.append(f"<p><b>{e(v['name'])}</b></p>")
            parts.append(_html_table(*group_table(v, field)))
    parts += [f"<p><img alt='figures by group' src='{images['groups']}'></p>", "<h2>Latency</h2><ul>"]
    parts += [
        f"<li>{e(v['name'])}: p50 {fmt(v['overall']['latency_p50_ms'])} ms, "
        f"p95 {fmt(v['overall']['latency_p95_ms'])} ms</li>"
        for v in variants
    ]
    parts += ["</ul>", f"<img alt='latency distribution' src='{images['latency']}'>", "<h2>Worst misses</h2>"]
    for v in variants:
        if len(variants) > 1:
            parts.append(f"<h3>{e(v['name'])}</h3>")
        if not v["worst"]:
            parts.append("<p>None: every question was answered correctly.</p>")
        for n, miss in enumerate(v["worst"], start=1):
            parts.append(
                f"<div class='miss'><span class='q'>{n}. {e(miss['id'])}: {e(miss['question'])}</span> "
                f"<span class='kind'>{e(miss['kind'])}</span><br>"
                f"expected: {e(' / '.join(miss['expected']) or '(abstain)')} "
                f"<span class='muted'>(sources: {e(', '.join(miss['expected_sources']) or '–')})</span><br>"
                f"answer: {e(_short(miss['answer'], 500))}<br>"
                f"<span class='muted'>cited: {e(', '.join(miss['cited']) or '–')}; retrieved: "
                f"{e(', '.join(miss['retrieved']) or '–')} (gold rank {fmt(miss['gold_rank'])}, "
                f"F1 {fmt(miss['f1'])})</span></div>"
            )
    parts += ["<h2>Definitions</h2><ul>", *(f"<li>{e(d)}</li>" for d in DEFINITIONS), "</ul></body></html>"]
    return "\n".join(parts)
