"""Reads the delimited blocks of a prompt or resource the way a strict client would, line by line."""

from __future__ import annotations

import re
from dataclasses import dataclass

OPENING = re.compile(r'^<(memory|episode|event)((?: [a-z_]+="[^"<>]*")+)>$')
ATTRIBUTE = re.compile(r' ([a-z_]+)="([^"]*)"')
ANY_TAG = re.compile(r"^\s*<\s*/?\s*(memory|episode|event)\b", re.IGNORECASE)


@dataclass
class Block:
    tag: str
    attributes: dict[str, str]
    body: str


def blocks(text: str) -> list[Block]:
    """Every block in ``text``; fails on a block that is not closed, a closing tag without a block, or a line inside a
    block that a reader could take for a tag."""
    found: list[Block] = []
    current: Block | None = None
    lines: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if current is None:
            opening = OPENING.match(line)
            if opening:
                current = Block(opening.group(1), dict(ATTRIBUTE.findall(opening.group(2))), "")
                lines = []
            else:
                assert not ANY_TAG.match(line), f"line {number} looks like a block tag outside a block: {line!r}"
            continue
        if line == f"</{current.tag}>":
            current.body = "\n".join(lines)
            found.append(current)
            current = None
            continue
        assert not ANY_TAG.match(line), f"line {number} inside a block looks like a block tag: {line!r}"
        lines.append(line)
    assert current is None, f"a <{current.tag}> block is never closed"
    return found


def outside_blocks(text: str) -> str:
    """The text with every block taken out: what the server itself says."""
    return re.sub(r"^<(memory|episode|event) [^\n]*>\n.*?\n</\1>$", "", text, flags=re.MULTILINE | re.DOTALL)
