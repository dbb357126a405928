"""Many simultaneous users of the chat's `/ask` API, each with its own gradio_client.

    .venv/bin/python benchmarks/concurrent_clients.py                 # own server, lexical-only
    .venv/bin/python benchmarks/concurrent_clients.py --url http://127.0.0.1:7860/

Without --url it indexes a copy of corpus/ (lexical-only, in a temporary folder, so index/ is
left alone) and serves the app in a separate process on a free loopback port. Every user asks
--rounds questions, all users start at the same moment; each answer must cite the document the
question is about. Prints latency percentiles; exits 1 on any error or wrong answer.
Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    ("Wer wurde zum ClusterERFOLG 2022 gewählt?", "2022-10-niro-clustererfolg.txt"),
    ("Welches Budget hat das COSME-Programm?", "2017-05-balticnet-plasmatec-cluster-excellence-training.txt"),
    ("Wie hilft das Digitalwerk Werder kleinen und mittleren Unternehmen?", "2020-cross-cluster-camp-ifii.txt"),
    ("Wo fand der Sommerempfang von In|Die RegionWestfalen statt?", "in-die-region-westfalen-sommerempfang.txt"),
    (
        "Wann fand die Infoveranstaltung zu go-cluster und der European Cluster Collaboration Platform statt?",
        "2022-05-go-cluster-eccp-infoveranstaltung.txt",
    ),
]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


SERVER = """
import sys
from pathlib import Path
from assistant.ui.app import build_app, launch
from assistant.config import Settings
root, port, concurrency = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index", model="none", progress=False)
launch(build_app(settings, data_dir=root / "data", staff_password=""), "127.0.0.1", port,
       concurrency=concurrency, quiet=True)
"""


def start_server(concurrency: int) -> tuple[subprocess.Popen, str, Path]:
    """The app in its own process (a server sharing the clients' interpreter would share their
    GIL too), over a lexical-only index of a copy of corpus/."""
    from assistant.config import Settings
    from assistant.index.build import build_index

    root = Path(tempfile.mkdtemp(prefix="assistant-bench-"))
    shutil.copytree(ROOT / "corpus", root / "corpus")
    for path in (root / "corpus").rglob("*"):
        path.chmod(path.stat().st_mode | 0o200)
    build_index(Settings(corpus_dir=root / "corpus", index_dir=root / "index", model="none", progress=False))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(root), str(port), str(concurrency)])
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url + "config", timeout=2):
                return server, url, root
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise SystemExit("Der Server ist nicht gestartet.") from None
            time.sleep(0.3)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux), to tell server cost from machine load."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running app; default: start one here")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5, help="questions per user")
    parser.add_argument(
        "--concurrency", type=int, default=None, help="the server's default_concurrency_limit (own server only)"
    )
    args = parser.parse_args()

    from gradio_client import Client

    server = root = None
    url = args.url
    if url is None:
        from assistant.ui.service import DEFAULT_CONCURRENCY

        server, url, root = start_server(args.concurrency or DEFAULT_CONCURRENCY)
    latencies: list[float] = []
    errors: list[str] = []
    wrong: list[str] = []
    lock = threading.Lock()
    clients = [Client(url, verbose=False) for _ in range(args.users)]
    barrier = threading.Barrier(args.users)

    def user(number: int) -> None:
        barrier.wait()
        for round_ in range(args.rounds):
            question, expected = QUESTIONS[(number + round_) % len(QUESTIONS)]
            started = time.perf_counter()
            try:
                result = clients[number].predict(question, api_name="/ask")
            except Exception as exc:
                with lock:
                    errors.append(f"Nutzer {number}: {type(exc).__name__}: {exc}")
                continue
            elapsed = time.perf_counter() - started
            cited = {c["doc_id"] for c in result.get("citations", [])}
            with lock:
                latencies.append(elapsed)
                if result.get("abstained") or expected not in cited:
                    wrong.append(f"{question!r}: zitiert {sorted(cited)}, erwartet {expected}")

    threads = [threading.Thread(target=user, args=(i,)) for i in range(args.users)]
    cpu_before = cpu_seconds(server.pid) if server is not None else None
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    cpu_after = cpu_seconds(server.pid) if server is not None else None
    if server is not None:
        server.terminate()
        server.wait(30)
        shutil.rmtree(root, ignore_errors=True)

    total = args.users * args.rounds
    print(f"{args.users} gleichzeitige Nutzer × {args.rounds} Fragen = {total} Anfragen an {url}ask")
    print(f"fehlerfrei: {len(latencies)}, Fehler: {len(errors)}, falsche Antworten: {len(wrong)}")
    if latencies:
        print(
            f"Antwortzeit p50 {1000 * statistics.median(latencies):.0f} ms, "
            f"p95 {1000 * percentile(latencies, 0.95):.0f} ms, max {1000 * max(latencies):.0f} ms; "
            f"{len(latencies) / wall:.1f} Antworten/s ({wall:.1f} s gesamt)"
        )
    if cpu_before is not None and cpu_after is not None and latencies:
        print(
            f"Server-CPU: {1000 * (cpu_after - cpu_before) / len(latencies):.0f} ms je Antwort "
            f"({os.cpu_count()} Kerne, Systemlast {os.getloadavg()[0]:.1f})"
        )
    for line in (errors + wrong)[:10]:
        print(f"  - {line}")
    return 1 if errors or wrong or len(latencies) != total else 0


if __name__ == "__main__":
    sys.exit(main())
