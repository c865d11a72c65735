"""Benchmark: our parser against dateparser on every text of issue 14's corpus (tests/data/corpus/*.json).

Each message goes once through ``parse(text, now, zone, sender)`` (the whole SMS: commands,
reminders in any order, questions) and once through ``get_date_data(text)`` of one reused
``dateparser.DateDataParser(languages=["en"])``, which only looks for a date. Prints messages/s,
p50/p99 latency per message, the ratio and the machine's load. The two take turns round by round,
and the best round of each is compared: on a busy machine both slow down, the best rounds least.
Exit status 1 when ours is the slower.

Run: python bench/bench_parser.py [--repeat N]
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

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "corpus"


def load_messages() -> list[tuple[str, datetime, str, str]]:
    """Return (text, now, zone, sender) for every corpus case, category by category."""
    rows = []
    for path in sorted(CORPUS.glob("*.json")):
        for case in json.loads(path.read_text(encoding="utf-8"))["cases"]:
            rows.append((case["text"], datetime.fromisoformat(case["now"]), case["zone"], case["sender"]))
    return rows


def measure(contenders: dict[str, list[Callable[[], object]]], repeat: int) -> list[dict[str, float | str]]:
    """Time every contender's calls in ``repeat`` rounds, taking turns, so machine load falls on both alike.

    Returns per contender: the best round's messages/s (the least disturbed, as timeit reports), the
    rate over all rounds, and per-message latency percentiles over all rounds.
    """
    for calls in contenders.values():
        for call in calls[:50]:
            call()  # warm caches (dateparser loads its locale data on first use)
    latencies: dict[str, list[int]] = {name: [] for name in contenders}
    rounds: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, calls in contenders.items():
            started = time.perf_counter()
            for call in calls:
                begin = time.perf_counter_ns()
                call()
                latencies[name].append(time.perf_counter_ns() - begin)
            rounds[name].append(time.perf_counter() - started)
    results = []
    for name, calls in contenders.items():
        spent = sorted(latencies[name])
        results.append({"name": name, "best": len(calls) / min(rounds[name]),
                        "rate": len(spent) / sum(rounds[name]),
                        "p50": spent[len(spent) // 2] / 1e3,
                        "p99": spent[min(len(spent) - 1, int(len(spent) * 0.99))] / 1e3,
                        "mean": statistics.fmean(spent) / 1e3})
    return results


def main() -> int:
    """Run the benchmark and print the table."""
    options = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_argument("--repeat", type=int, default=5)
    args = options.parse_args()

    import dateparser
    from dateparser.date import DateDataParser

    rows = load_messages()
    ours = [lambda text=text, now=now, zone=zone, sender=sender: parse(text, now, zone, sender)
            for text, now, zone, sender in rows]
    reused = DateDataParser(languages=["en"])
    theirs = [lambda text=text: reused.get_date_data(text) for text, *_ in rows]

    load = os.getloadavg()
    print(f"machine: nproc={os.cpu_count()} load={load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"python={platform.python_version()} {platform.machine()} dateparser={dateparser.__version__}")
    print(f"corpus: {len(rows)} messages from {CORPUS.relative_to(CORPUS.parent.parent.parent)}, x{args.repeat}")
    print(f"{'parser':<44}{'best/s':>9}{'all/s':>9}{'p50 us':>9}{'p99 us':>9}{'mean us':>9}")
    results = measure({"bot.language.parser.parse (whole SMS)": ours,
                       'DateDataParser(["en"]).get_date_data (reused)': theirs}, args.repeat)
    for row in results:
        print(f"{row['name']:<44}{row['best']:>9.0f}{row['rate']:>9.0f}{row['p50']:>9.1f}{row['p99']:>9.1f}"
              f"{row['mean']:>9.1f}")
    best = float(results[0]["best"]) / float(results[1]["best"])
    overall = float(results[0]["rate"]) / float(results[1]["rate"])
    print(f"ours vs dateparser: {best:.2f}x the messages per second in the best rounds, {overall:.2f}x over all "
          f"({'faster' if best >= 1 else 'SLOWER'}; load {load[0]:.2f})")
    return 0 if best >= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
