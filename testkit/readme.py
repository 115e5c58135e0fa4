"""The README's examples, as the tests read them: a section's first code block."""

from __future__ import annotations

from pathlib import Path

__all__ = ["readme_block"]

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_block(heading: str, language: str) -> str:
    """The first ```language block under the README's ``## heading``."""
    text = README.read_text()
    section = text[text.index(f"## {heading}\n") :]
    start = section.index(f"```{language}\n") + len(language) + 4
    return section[start : section.index("```\n", start)]
