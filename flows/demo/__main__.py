"""``python -m flows.demo serve [--ports default|free] [--quirks]`` serves the demo network
until Ctrl-C; ``python -m flows.demo seeds`` prints the seeds file for the default ports."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from pathlib import Path

from flows.demo.network import DemoNetwork


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.demo", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the demo network until Ctrl-C")
    serve.add_argument("--ports", choices=["default", "free"], default="default")
    serve.add_argument("--quirks", action="store_true", help="also serve the quirks site")
    serve.add_argument("--seeds", type=Path, help="where to write the seeds file")
    sub.add_parser("seeds", help="print the seeds file for the default ports")
    args = parser.parse_args(argv)

    if args.command == "seeds":
        sys.stdout.write(DemoNetwork(ports=DemoNetwork.default_ports()).seeds_yaml())
        return 0
    ports = DemoNetwork.default_ports() if args.ports == "default" else None
    network = DemoNetwork(ports=ports, quirks=args.quirks)
    network.start()
    seeds = args.seeds or Path(tempfile.gettempdir()) / "newsdedup-demo-seeds.yaml"
    network.write_seeds(seeds, include_quirks=args.quirks)
    for site in network.sites:
        print(f"{site.name:20} {site.role:10} {site.base_url}/")
    print(f"seeds: {seeds}", flush=True)
    # Ctrl-C and SIGTERM both stop the servers cleanly (SIGINT may be ignored when started in
    # the background by a shell, so restore Python's handler).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        network.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
