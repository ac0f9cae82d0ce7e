"""Serve a generated demo network for the end-to-end benchmark, in its own process.

    python bench/_e2e_network.py --articles N --sites S --out DIR

Writes ``DIR/seeds.yaml`` and ``DIR/truth.json`` (originals, reprint -> original, the
sitemaps), prints ``ready`` and serves until SIGTERM. It runs apart from the benchmark so
that its request handling (pages are rendered on request) is neither charged to the
pipeline nor to the baseline, and does not hold the GIL of the process that samples them.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flows.demo import DemoNetwork  # noqa: E402
from flows.demo.network import _Handler  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, required=True)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--reprint-share", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--nagle",
        action="store_true",
        help="keep Nagle's algorithm on the server sockets (the demo server's default)",
    )
    args = parser.parse_args()
    # The demo handler writes the headers and the body of a response in two sends. With
    # Nagle's algorithm on, the body waits for the ACK of the headers, which a keep-alive
    # client such as urllib3 (trafilatura.fetch_url) delays by ~40 ms: every page would take
    # 40 ms however fast the server is. Real web servers do not stall like that, so the
    # benchmark serves with TCP_NODELAY (the stdlib handler's own switch).
    _Handler.disable_nagle_algorithm = not args.nagle

    net = DemoNetwork.generated(
        n_articles=args.articles,
        n_sites=args.sites,
        reprint_share=args.reprint_share,
        seed=args.seed,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    net.start()
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        net.write_seeds(args.out / "seeds.yaml")
        truth = net.truth
        (args.out / "truth.json").write_text(
            json.dumps(
                {
                    "originals": truth.originals,
                    "reprints": truth.reprints,
                    "sitemaps": [u for s in net.sites for u in s.sitemap_urls],
                    "sites": [
                        {"name": s.name, "role": s.role, "url": s.base_url} for s in net.sites
                    ],
                }
            )
        )
        print("ready", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        net.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
