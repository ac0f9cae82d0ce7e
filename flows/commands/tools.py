"""``newsdedup demo`` (the bundled news network, crawled and published), ``crawl`` (the
crawl stage alone) and ``dedup`` (a JSON-lines file, without the pipeline)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from crawlers.seeds import SeedsError, load_seeds
from dedup.jsonl_tool import main as dedup_main
from flows import stages
from flows.commands.common import err
from flows.commands.running import cmd_run
from flows.defaults import EXIT_BAD_INPUT, EXIT_FAILED
from flows.demo import DemoNetwork


def cmd_demo(args: argparse.Namespace) -> int:
    output = args.output
    network = DemoNetwork(ports=None if args.free_ports else DemoNetwork.default_ports())
    try:
        network.start()
    except OSError as exc:
        err(f"cannot serve the demo network on its ports ({exc}); try: newsdedup demo --free-ports")
        return EXIT_FAILED
    with network:
        seeds_path = Path(args.seeds_out)
        seeds_path.parent.mkdir(parents=True, exist_ok=True)
        network.write_seeds(seeds_path)
        print(
            f"demo network: {len(network.sites)} sites on loopback; seeds written to {seeds_path}"
        )
        for site in network.sites:
            print(f"  {site.name:<24} {site.role:<10} {site.base_url}")
        args_run = argparse.Namespace(
            seeds=str(seeds_path), source=[], output=output, allow_private=True, window_days=None
        )
        status = cmd_run(args_run)
    if status == 0:
        print()
        print("Read the output:")
        print(f"  newsdedup read {output} --table articles | head")
        print(f"  newsdedup read {output} --table duplicates --columns url,duplicate_of,similarity")
        print(
            '  python -c "from flows import read_articles; '
            f"print(read_articles('{output}').to_pandas()[['source','title']])\""
        )
    return status


def cmd_crawl(args: argparse.Namespace) -> int:
    """Just the crawl stage for some sources: writes the pages it fetched, nothing else."""
    try:
        seeds = load_seeds(args.seeds)
        chosen = seeds.select(args.source)
    except SeedsError as exc:
        err(str(exc))
        return EXIT_BAD_INPUT
    out = Path(args.output)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        err(f"--output {out}: cannot create the folder: {exc.strerror or exc}")
        return EXIT_BAD_INPUT
    status = 0
    for src in chosen:
        outcome = stages.crawl_source(src, args.seeds, out, allow_private=args.allow_private)
        print(
            json.dumps(
                {
                    "source": src.name,
                    "ok": outcome.ok,
                    "pages": outcome.pages_path,
                    "error": outcome.error,
                    "stats": outcome.stats,
                },
                default=str,
            )
        )
        if not outcome.ok:
            status = EXIT_FAILED
    return status


def cmd_dedup(args: list[str]) -> int:
    return dedup_main(args)
