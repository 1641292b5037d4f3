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


def _walk_forward(report: dict[str, Any]) -> str:
    """Where the test window was walked forward: how often the model was retrained, and its last window."""
    days = report.get("walk_forward_days")
    models = report.get("arrival_models") or report.get("departure_models")
    if not days or not models:
        return ""
    last = models[-1]["train_window"]
    return f", retrained every {days} days (last trained {last[0]} … {last[1]})"


def table(report: dict[str, Any]) -> str:
    """Arrival MAE (minutes) of the model and each baseline per horizon, and the platform figures."""
    lines = [
        f"{report['mode']} backtest: trained {report['train_window'][0]} … {report['train_window'][1]}, "
        f"tested {report['test_window'][0]} … {report['test_window'][1]}{_walk_forward(report)}"
    ]
    for event in ("arrival", "departure"):
        if not report.get(event):
            continue
        names = list(next(iter(report[event].values()))["baselines"])
        header = f"{'horizon':<13}{'n':>9}{'model MAE':>11}" + "".join(f"{n:>17}" for n in names)
        served = "model_own_interval" in next(iter(report[event].values()))
        interval = "P10–P90 coverage as served" if served else "P10–P90 coverage"
        lines += ["", f"{event} — MAE in minutes (model: {interval}, benchmark band hits)", header]
        for horizon, block in report[event].items():
            model = block["model"]
            row = f"{horizon:<13}{block['n']:>9,}{model['mae_s'] / 60:>11.2f}"
            row += "".join(f"{block['baselines'][n]['mae_s'] / 60:>17.2f}" for n in names)
            best = min(block["baselines"][n]["mae_s"] for n in names)
            gain = 1 - model["mae_s"] / best if best else 0.0
            row += (
                f"   cov {model['coverage_p10_p90']:.1%}  band {model['band_hit_rate']:.1%}"
                f"  vs best baseline {gain:+.1%}"
            )
            if "crps_s" in model:
                row += f"  CRPS {model['crps_s'] / 60:.2f}"
            own = block.get("model_own_interval")
            if own:
                row += f"  (model's own interval: cov {own['coverage_p10_p90']:.1%}"
                row += f", CRPS {own['crps_s'] / 60:.2f})" if "crps_s" in own else ")"
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
    if report.get("platform_unpublished"):
        lead = report.get("platform_unpublished_announce_lead_min")
        lines += [
            "",
            f"platform, unpublished until {lead} min before arrival: model vs history (top-1 by group)",
            f"{'horizon':<13}{'n':>9}{'model top1':>12}{'top2':>8}{'history':>9}{'model LL':>10}"
            f"{'hist LL':>9}{'ECE':>7}{'S model':>9}{'S hist':>8}{'other model':>13}{'other hist':>12}",
        ]
        for horizon, block in report["platform_unpublished"].items():
            m, b = block["model"], block["baselines"]["history"]
            groups = block["s_bahn_or_not"]
            lines.append(
                f"{horizon:<13}{block['n']:>9,}{m['top1']:>12.4f}{m['top2']:>8.4f}{b['top1']:>9.4f}"
                f"{m['log_loss']:>10.4f}{b['log_loss']:>9.4f}{m['ece']:>7.4f}"
                + "".join(
                    f"{_or_dash(groups[g]['model']['top1']):>{w1}}{_or_dash(groups[g]['baselines']['history']['top1']):>{w2}}"
                    for g, w1, w2 in (("S-Bahn", 9, 8), ("other", 13, 12))
                )
            )
    return "\n".join(lines)


def _or_dash(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def plots(report: dict[str, Any], platform_rows: dict[str, pd.DataFrame], path: Path) -> list[Path]:
    """Error by horizon (model vs baselines), platform calibration and the unpublished platforms' top-1
    by minutes before arrival, as PNGs next to ``path``."""
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
    published = platform_rows.get("published")
    if published is not None and not published.empty:
        fig, ax = plt.subplots(figsize=(5, 5))
        for horizon, part in published.groupby("horizon"):
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
    if report.get("platform_unpublished"):
        written.append(_unpublished_curve(report, path.with_suffix(".platform_unpublished.png")))
    return written


def _unpublished_curve(report: dict[str, Any], target: Path) -> Path:
    """Top-1 against minutes before the scheduled arrival, model against the history baseline, overall and
    for S-Bahn and the other trains apart."""
    import matplotlib.pyplot as plt

    blocks = report["platform_unpublished"]
    minutes = [int(h.removesuffix("min")) for h in blocks]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    series = [
        ("all trains", lambda b: b, "-"),
        ("S-Bahn", lambda b: b["s_bahn_or_not"]["S-Bahn"], ":"),
        ("other trains", lambda b: b["s_bahn_or_not"]["other"], "--"),
    ]
    for label, part, style in series:
        model = [part(b)["model"]["top1"] for b in blocks.values()]
        history = [part(b)["baselines"]["history"]["top1"] for b in blocks.values()]
        if any(v is None for v in model + history):
            continue
        ax.plot(minutes, [100 * v for v in model], style, marker="o", color="C0", label=f"model, {label}")
        ax.plot(minutes, [100 * v for v in history], style, marker="s", color="C1", label=f"history, {label}")
    lead = report.get("platform_unpublished_announce_lead_min")
    if lead:
        ax.axvspan(lead, 0, color="grey", alpha=0.15, linewidth=0)
        ax.text(lead / 2, 0.5, "announced", transform=ax.get_xaxis_transform(), ha="center", rotation=90)
    ax.set_xlim(max(minutes) + 5, 0)
    ax.set_xlabel("minutes before the scheduled arrival")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(f"platform before it is announced, test {' … '.join(report['test_window'])}")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target
