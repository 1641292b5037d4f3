"""Backtest output: the JSON report, a readable table for stdout, and PNG plots beside the JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from eta.evaluation.metrics import reliability


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=False, default=str) + "\n")


def table(report: dict[str, Any]) -> str:
    """Arrival MAE (minutes) of the model and each baseline per horizon, and the platform figures."""
    lines = [
        f"{report['mode']} backtest: trained {report['train_window'][0]} … {report['train_window'][1]}, "
        f"tested {report['test_window'][0]} … {report['test_window'][1]}"
    ]
    if report["arrival"]:
        names = list(next(iter(report["arrival"].values()))["baselines"])
        header = f"{'horizon':<13}{'n':>9}{'model MAE':>11}" + "".join(f"{n:>17}" for n in names)
        lines += ["", "arrival — MAE in minutes (model: P10–P90 coverage, benchmark band hits)", header]
        for horizon, block in report["arrival"].items():
            model = block["model"]
            row = f"{horizon:<13}{block['n']:>9,}{model['mae_s'] / 60:>11.2f}"
            row += "".join(f"{block['baselines'][n]['mae_s'] / 60:>17.2f}" for n in names)
            best = min(block["baselines"][n]["mae_s"] for n in names)
            gain = 1 - model["mae_s"] / best if best else 0.0
            row += (
                f"   cov {model['coverage_p10_p90']:.1%}  band {model['band_hit_rate']:.1%}"
                f"  vs best baseline {gain:+.1%}"
            )
            lines.append(row)
    if report["platform"]:
        lines += [
            "",
            "platform — top-1 accuracy and log loss (model vs announced / history)",
            f"{'horizon':<13}{'n':>9}{'changed':>9}{'model top1':>12}{'announced':>11}{'history':>9}"
            f"{'model LL':>10}{'annc LL':>9}{'hist LL':>9}{'ECE':>7}{'caught':>8}",
        ]
        for horizon, block in report["platform"].items():
            m, b = block["model"], block["baselines"]
            caught = "-" if m["changes_caught"] is None else f"{m['changes_caught']:.1%}"
            lines.append(
                f"{horizon:<13}{block['n']:>9,}{block['n_changed_after_t']:>9,}{m['top1']:>12.4f}"
                f"{b['announced']['top1']:>11.4f}{b['history']['top1']:>9.4f}{m['log_loss']:>10.4f}"
                f"{b['announced']['log_loss']:>9.4f}{b['history']['log_loss']:>9.4f}{m['ece']:>7.4f}{caught:>8}"
            )
    return "\n".join(lines)


def plots(report: dict[str, Any], platform_rows: pd.DataFrame | None, path: Path) -> list[Path]:
    """error by horizon (model vs baselines) and platform calibration, as PNGs next to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    if report["arrival"]:
        horizons = list(report["arrival"])
        names = ["model", *next(iter(report["arrival"].values()))["baselines"]]
        fig, ax = plt.subplots(figsize=(8, 4.5))
        width = 0.8 / len(names)
        for i, name in enumerate(names):
            values = [
                (block["model"] if name == "model" else block["baselines"][name])["mae_s"] / 60
                for block in report["arrival"].values()
            ]
            ax.bar([h + i * width for h in range(len(horizons))], values, width, label=name)
        ax.set_xticks([h + width * (len(names) - 1) / 2 for h in range(len(horizons))], horizons)
        ax.set_ylabel("mean absolute error (min)")
        ax.set_title(f"{report['mode']} arrival error by horizon, test {' … '.join(report['test_window'])}")
        ax.legend()
        fig.tight_layout()
        target = path.with_suffix(".arrival.png")
        fig.savefig(target, dpi=110)
        plt.close(fig)
        written.append(target)
    if platform_rows is not None and not platform_rows.empty:
        fig, ax = plt.subplots(figsize=(5, 5))
        for horizon, part in platform_rows.groupby("horizon"):
            correct = (part["platform"] == part["final_platform"]).to_numpy()
            curve = reliability(part["platform_probability"].fillna(0).to_numpy(), correct)
            ax.plot(curve["confidence"], curve["accuracy"], marker="o", label=str(horizon))
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
        ax.set_xlabel("predicted probability of the top platform")
        ax.set_ylabel("share correct")
        ax.set_title("platform calibration")
        ax.legend()
        fig.tight_layout()
        target = path.with_suffix(".platform.png")
        fig.savefig(target, dpi=110)
        plt.close(fig)
        written.append(target)
    return written
