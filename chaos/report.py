"""The figures of a run, as text for people and JSON for anything else."""

from __future__ import annotations

from typing import Any

from chaos.checker import Verdict


def render(verdict: Verdict) -> str:
    s = verdict.summary()
    lines = [f"== {s['scenario']}: {'PASS' if s['ok'] else 'FAIL'} ({s['seconds']} s)"]
    if s["sent"]:
        lines += [
            f"   sender events {s['sent']}, acknowledged {s['acknowledged']}, lost {s['lost']}",
            f"   deliveries expected {s['expected_deliveries']}, received"
            f" {s['deliveries_received']}, duplicates {s['duplicates']}"
            f" (ratio {s['duplicate_ratio']:.4%})",
            f"   answers {s['answers']}",
        ]
    for fault in s["faults"]:
        figures = ", ".join(f"{k} {v}" for k, v in fault.items() if k != "name")
        lines.append(f"   fault {fault['name']}: {figures}")
    skip = {
        "scenario", "ok", "seconds", "sent", "acknowledged", "lost", "expected_deliveries",
        "deliveries_received", "duplicates", "duplicate_ratio", "answers", "faults", "violations",
    }  # fmt: skip
    lines += [f"   {key}: {value}" for key, value in s.items() if key not in skip]
    lines += [f"   VIOLATION {v}" for v in s["violations"]]
    return "\n".join(lines)


def totals(verdicts: list[Verdict]) -> dict[str, Any]:
    acknowledged = sum(v.acknowledged for v in verdicts)
    expected = sum(v.expected_deliveries for v in verdicts)
    duplicates = sum(v.duplicates for v in verdicts)
    return {
        "scenarios": len(verdicts),
        "passed": sum(v.ok for v in verdicts),
        "events_acknowledged": acknowledged,
        "events_lost": sum(len(v.lost) for v in verdicts),
        "deliveries_expected": expected,
        "duplicate_deliveries": duplicates,
        "duplicate_ratio": round(duplicates / expected, 5) if expected else 0.0,
        "seconds": round(sum(v.seconds for v in verdicts), 1),
    }
