"""Reading Python source around AST nodes: exact line spans, headers as written, dotted names."""

from __future__ import annotations

import ast
import io
import tokenize

from mcp_memory.extraction.vocabulary import one_line


def node_span(node: ast.stmt) -> tuple[int, int]:
    """First and last line of a statement, decorators included."""
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno, *(d.lineno for d in decorators)])
    return start, node.end_lineno or node.lineno


def line_segment(lines: list[str], start: int, end: int) -> str:
    """The exact text of lines ``start``..``end`` (1-based, inclusive)."""
    return "\n".join(lines[start - 1 : end])


def _slice(lines: list[str], start: tuple[int, int], end: tuple[int, int]) -> str:
    """Text between two AST positions; AST columns count UTF-8 bytes, not characters."""
    (l1, c1), (l2, c2) = start, end
    raw = [line.encode("utf-8") for line in lines[l1 - 1 : l2]]
    if not raw:
        return ""
    if len(raw) == 1:
        return raw[0][c1:c2].decode("utf-8", "replace")
    raw[0] = raw[0][c1:]
    raw[-1] = raw[-1][:c2]
    return "\n".join(part.decode("utf-8", "replace") for part in raw)


def header(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, lines: list[str]) -> str:
    """The def/class header as written (annotations and defaults kept), without the trailing colon."""
    first = node.body[0]
    text = _slice(lines, (node.lineno, node.col_offset), (first.lineno, first.col_offset))
    depth = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type != tokenize.OP:
                continue
            if tok.string in "([{":
                depth += 1
            elif tok.string in ")]}":
                depth -= 1
            elif tok.string == ":" and depth == 0:
                row, col = tok.start
                kept = [*text.split("\n")[: row - 1], text.split("\n")[row - 1][:col]]
                return one_line("\n".join(kept))
    except (tokenize.TokenError, SyntaxError):
        pass
    return _synthesized_header(node)


def _synthesized_header(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
    """Fallback header rebuilt from the AST when the written one cannot be tokenized."""
    if isinstance(node, ast.ClassDef):
        bases = [ast.unparse(b) for b in node.bases] + [ast.unparse(k) for k in node.keywords]
        return f"class {node.name}({', '.join(bases)})" if bases else f"class {node.name}"
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return f"{prefix} {node.name}({ast.unparse(node.args)}){returns}"


def dotted_name(node: ast.AST) -> str:
    """'a.b.c' for a name/attribute chain; calls in the chain keep their callee ('a().b' -> 'a.b')."""
    parts: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Name):
            parts.append(node.id)
            break
        else:
            break
    return ".".join(reversed(parts))


def call_name(node: ast.AST) -> str:
    """Callee of a call expression as a dotted name, '' when it is not a call."""
    return dotted_name(node.func) if isinstance(node, ast.Call) else ""


def docstring_of(node: ast.AST) -> str | None:
    """The cleaned docstring of a def/class, if any."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
        return ast.get_docstring(node, clean=True)
    return None


def parameter_names(args: ast.arguments) -> list[str]:
    """Parameter names in declaration order, with * and ** kept for the variadic ones."""
    names = [a.arg for a in [*args.posonlyargs, *args.args]]
    if args.vararg:
        names.append(f"*{args.vararg.arg}")
    names.extend(a.arg for a in args.kwonlyargs)
    if args.kwarg:
        names.append(f"**{args.kwarg.arg}")
    return names
