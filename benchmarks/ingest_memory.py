"""Peak memory and time of `assistant index` (lexical-only) over one hostile or large file.

    .venv/bin/python benchmarks/ingest_memory.py                   # all cases
    .venv/bin/python benchmarks/ingest_memory.py --case text --text-mb 49
    .venv/bin/python benchmarks/ingest_memory.py --code /tmp/old-checkout   # another version

Cases, each a corpus of one file beside a small ordinary one, indexed in a fresh process:
``small`` (the interpreter and libraries alone), ``docx`` (a DOCX of about 2 MB whose
word/document.xml unpacks to --docx-mb while its zip headers claim 2 KB), ``text`` (a German
text file of --text-mb). Peak RSS comes from the kernel (``wait4``) for that process alone.
Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from hostile_files import padded_docx, write_german_text

CHILD = """
import sys, time
import assistant
from pathlib import Path
from assistant.config import Settings
from assistant.index.build import build_index
root = Path(sys.argv[1])
settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index", model="none", reader="none",
                    progress=False, max_file_bytes=int(sys.argv[2]))
started = time.perf_counter()
report = build_index(settings)
print(f"{time.perf_counter() - started:.2f}")
print(f"{report.documents} Dokumente, {report.chunks} Abschnitte (Paket {Path(assistant.__file__).parent})")
for skipped in report.skipped:
    print(f"übersprungen: {skipped.path}: {skipped.reason}")
"""


def measure(root: Path, code: Path, max_file_bytes: int) -> tuple[float, float, float, float, list[str]]:
    """(peak RSS in MB, wall seconds, build seconds, CPU seconds, what the build reported) of one
    build. CPU seconds (user + system, whole process) vary less than wall time on a busy machine."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    env = {k: v for k, v in env.items() if not k.startswith("ASSISTANT_")}
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), str(max_file_bytes)],
        env=env,
        cwd=root,  # not the caller's folder: `python -c` puts it before PYTHONPATH
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Read before waiting (a full pipe would block the child), then take its own rusage.
    out, err = child.stdout.read(), child.stderr.read()  # type: ignore[union-attr]
    _pid, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    lines = out.splitlines()
    cpu = usage.ru_utime + usage.ru_stime
    if child.returncode != 0 or not lines:
        failed = [f"Fehler (Exit {child.returncode}): {err.strip()[-500:]}"]
        return usage.ru_maxrss / 1024, wall, float("nan"), cpu, failed
    return usage.ru_maxrss / 1024, wall, float(lines[0]), cpu, lines[1:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=("small", "docx", "text"), action="append")
    parser.add_argument("--docx-mb", type=float, default=1900.0, help="unpacked size of the lying DOCX's XML")
    parser.add_argument("--text-mb", type=float, default=49.0, help="size of the text file")
    parser.add_argument("--max-file-mb", type=float, default=50.0, help="max_file_bytes for the build")
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose assistant package is measured")
    args = parser.parse_args()
    cases = args.case or ["small", "docx", "text"]
    max_file_bytes = int(args.max_file_mb * 1e6)
    print(f"Code: {args.code.resolve()}, max_file_bytes {max_file_bytes / 1e6:.0f} MB")
    for case in cases:
        with tempfile.TemporaryDirectory(prefix="ingest-memory-") as folder:
            root = Path(folder)
            corpus = root / "corpus"
            corpus.mkdir()
            (corpus / "klein.txt").write_text("Eine kleine Meldung über das Netzwerk in Münster.\n", encoding="utf-8")
            if case == "docx":
                path = padded_docx(
                    corpus / "luege.docx", "Harmloser Text: Blindgängerwort.", int(args.docx_mb * 1e6), claimed=2048
                )
            elif case == "text":
                path = write_german_text(corpus / "gross.txt", int(args.text_mb * 1e6))
            else:
                path = corpus / "klein.txt"
            size = path.stat().st_size / 1e6
            peak, wall, build, cpu, report = measure(root, args.code, max_file_bytes)
            print(f"\n[{case}] {path.name}: {size:.1f} MB auf der Platte")
            print(f"  Spitze RSS {peak:.0f} MB, Bau {build:.1f} s, Prozess {wall:.1f} s (CPU {cpu:.1f} s)")
            for line in report:
                print(f"  {line[:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
