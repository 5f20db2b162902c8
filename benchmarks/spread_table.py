"""Markdown tables (mean ± sd over seeds) from ``interestgraph train --seeds … --json`` output,
or from several single-seed ``train --seed N --json`` outputs of the same split (combined with
``training.spread.aggregate``, so seeds can run as separate jobs or on separate machines).

    python benchmarks/spread_table.py run.json [--target user_item] [--metrics recall@20,ndcg@20]
    python benchmarks/spread_table.py seed0.json seed1.json seed2.json

One row per model, best mean first; each cell ``mean ± sd``; a last column gives ours over the
row's model on the first metric (ratio of means) with the seeds' spread of that ratio.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from training.spread import aggregate


def ratio_spread(ours: list[float], other: list[float]) -> str:
    """Ratio of means, and the sd of the per-seed ratios (same seeds, same split)."""
    if not other or not sum(other):
        return "–"
    per_seed = [a / b for a, b in zip(ours, other, strict=True) if b]
    mean = sum(ours) / sum(other)
    if len(per_seed) < 2:
        return f"{mean:.3f}×"
    centre = sum(per_seed) / len(per_seed)
    sd = math.sqrt(sum((r - centre) ** 2 for r in per_seed) / (len(per_seed) - 1))
    return f"{mean:.3f}× ± {sd:.3f}"


def table(payload: dict, target: str, metrics: list[str]) -> str:
    spread = payload["spread"]
    rows = []
    for model, targets in spread.items():
        if target not in targets:
            continue
        cells = targets[target]
        rows.append((model, [cells.get(m) for m in metrics]))
    rows.sort(key=lambda r: -(r[1][0]["mean"] if r[1][0] else -1))
    ours = spread["ours"][target][metrics[0]]["values"]
    lines = [
        "| model | " + " | ".join(metrics) + f" | ours ÷ model ({metrics[0]}) |",
        "|---" * (len(metrics) + 2) + "|",
    ]
    for model, cells in rows:
        shown = [f"{c['mean']:.4f} ± {c['sd']:.4f}" if c else "–" for c in cells]
        ratio = "–" if model == "ours" else ratio_spread(ours, cells[0]["values"])
        name = "**ours**" if model == "ours" else model
        lines.append(f"| {name} | " + " | ".join(shown) + f" | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--target", default="user_item")
    parser.add_argument("--metrics", default="recall@20,ndcg@20,recall@10,mrr@20")
    args = parser.parse_args()
    payloads = [json.loads(p.read_text().strip().splitlines()[-1]) for p in args.runs]
    payload = payloads[0] if len(payloads) == 1 and "spread" in payloads[0] else aggregate(payloads)
    sys.stdout.write(table(payload, args.target, args.metrics.split(",")) + "\n")


if __name__ == "__main__":
    main()
