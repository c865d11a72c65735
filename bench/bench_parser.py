"""Benchmark: our parser against plain dateparser on the when-phrases of the test corpus.

Run: python bench/bench_parser.py [--repeat N]. Prints messages/s and p50/p99 latency per message.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.language.parser import parse  # noqa: E402

CASES = Path(__file__).resolve().parent.parent / "tests" / "data" / "parse_cases.json"


def load_phrases() -> list[tuple[str, str, datetime, str, str]]:
    """Return (when-phrase, full message, now, zone, sender) for each "remind me <when>: ..." case."""
    rows = []
    for case in json.loads(CASES.read_text(encoding="utf-8"))["cases"]:
        text = case["text"]
        if text.lower().startswith("remind me ") and ":" in text and len(text) < 200:
            phrase = text[len("remind me "):].split(": ", 1)[0]
            rows.append((phrase, text, datetime.fromisoformat(case["now"]), case["zone"], case["sender"]))
    return rows


def measure(name: str, calls: list[Callable[[], object]], repeat: int) -> dict[str, float | str]:
    """Time each call ``repeat`` times; return throughput and per-message latency percentiles."""
    for call in calls[:20]:
        call()  # warm caches (dateparser loads its locale data on first use)
    latencies = []
    started = time.perf_counter()
    for _ in range(repeat):
        for call in calls:
            begin = time.perf_counter_ns()
            call()
            latencies.append(time.perf_counter_ns() - begin)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"name": name, "rate": len(latencies) / elapsed,
            "p50": latencies[len(latencies) // 2] / 1e3,
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] / 1e3,
            "mean": statistics.fmean(latencies) / 1e3}


def main() -> int:
    """Run the benchmark and print the table."""
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--repeat", type=int, default=5)
    args = options.parse_args()

    import dateparser

    rows = load_phrases()
    ours = [lambda text=text, now=now, zone=zone, sender=sender: parse(text, now, zone, sender)
            for _, text, now, zone, sender in rows]
    plain = [lambda phrase=phrase: dateparser.parse(phrase) for phrase, *_ in rows]
    english = [lambda phrase=phrase: dateparser.parse(phrase, languages=["en"]) for phrase, *_ in rows]

    print(f"machine: nproc={os.cpu_count()} python={platform.python_version()} "
          f"{platform.machine()} dateparser={dateparser.__version__}")
    print(f"corpus: {len(rows)} when-phrases from {CASES.name}, x{args.repeat}")
    print(f"{'parser':<34}{'msgs/s':>10}{'p50 us':>10}{'p99 us':>10}{'mean us':>10}")
    results = [measure("bot.language.parser.parse (full message)", ours, args.repeat),
               measure("dateparser.parse(phrase)", plain, args.repeat),
               measure("dateparser.parse(phrase, en)", english, args.repeat)]
    for row in results:
        print(f"{row['name']:<34}{row['rate']:>10.0f}{row['p50']:>10.1f}{row['p99']:>10.1f}{row['mean']:>10.1f}")
    slower = results[0]["rate"] < results[1]["rate"]
    print("ours is SLOWER than plain dateparser" if slower else "ours is not slower than plain dateparser")
    return 1 if slower else 0


if __name__ == "__main__":
    sys.exit(main())
