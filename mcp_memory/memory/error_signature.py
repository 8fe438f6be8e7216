"""Error signatures: one template for every concrete message with the same cause.

``ModuleNotFoundError: No module named 'fastapi'`` raised from ``/srv/app/main.py`` and
``ModuleNotFoundError: No module named 'httpx'`` raised from ``C:\\work\\api.py`` share the signature
``ModuleNotFoundError: No module named <name>``, so failures can be grouped and matched to known fixes.
"""

from __future__ import annotations

import re

MAX_SIGNATURE_CHARS = 200

# "Type: message" where Type looks like an exception class, optionally dotted (requests.exceptions.HTTPError),
# anywhere in a line ("E   AssertionError: ..." from pytest, "[stderr] KeyError: 'x'").
_EXCEPTION_LINE = re.compile(
    r"(?<![\w.])(?:[A-Za-z_]\w*\.)*(?P<type>[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Warning|Failure|Fault|Timeout))"
    r"(?:[ \t]*:[ \t]*(?P<message>[^\n]*)|[ \t]*$)",
    re.MULTILINE,
)
_TRACEBACK_FRAME = re.compile(r'^\s*File "[^"]*", line \d+')
_HEX = re.compile(r"\b0x[0-9a-fA-F]+\b")
_LONG_HEX = re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{12,}\b")
_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`|‘[^’\n]*’|“[^”\n]*”")
_WINDOWS_PATH = re.compile(r"\b[A-Za-z]:\\[^\s:,;()]*")
_POSIX_PATH = re.compile(r"(?<![\w<])(?:~|\.{1,2})?(?:/[\w.\-+@~]+)+/?")
_RELATIVE_FILE = re.compile(r"\b[\w.\-]+(?:/[\w.\-]+)+\.\w+\b")
_URL = re.compile(r"\b[a-z][a-z0-9+.\-]*://\S+")
_NUMBER = re.compile(r"(?<![\w<])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w>])")
_SPACE = re.compile(r"\s+")


def exception_line(text: str) -> str:
    """The line that names the error: the last ``Type: message`` line of a traceback, else the last line."""
    matches = list(_EXCEPTION_LINE.finditer(text))
    if matches:
        return matches[-1].group(0).strip()
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    lines = [line for line in lines if not _TRACEBACK_FRAME.match(line)] or lines
    return lines[-1] if lines else ""


def error_type(text: str) -> str | None:
    """The exception class name in ``text`` (without its module), if it names one."""
    matches = list(_EXCEPTION_LINE.finditer(text))
    return matches[-1].group("type") if matches else None


def error_signature(text: str) -> str:
    """The message template: exception type + message with paths, numbers, names and addresses as placeholders."""
    line = exception_line(text)
    match = _EXCEPTION_LINE.search(line)
    if match:
        kind, message = match.group("type"), match.group("message") or ""
    else:
        kind, message = "", line
    message = _template(message)
    signature = f"{kind}: {message}" if kind and message else kind or message
    return signature[:MAX_SIGNATURE_CHARS]


def signature_if_named(text: str) -> str | None:
    """The signature of ``text`` when it names an exception type; None for free text ("cannot import x")."""
    return error_signature(text) if error_type(text) else None


def error_focus(text: str) -> str:
    """The part of an error report to compare: the exception line when there is one, else the whole text.

    A traceback's frames say where an error happened, not what it is; matching on them drowns the message.
    """
    return exception_line(text) if error_type(text) else text.strip()


def _template(message: str) -> str:
    message = _URL.sub("<url>", message)
    message = _QUOTED.sub(lambda m: "<path>" if _looks_like_path(m.group(0)[1:-1]) else "<name>", message)
    message = _WINDOWS_PATH.sub("<path>", message)
    message = _POSIX_PATH.sub("<path>", message)
    message = _RELATIVE_FILE.sub("<path>", message)
    message = _HEX.sub("<addr>", message)
    message = _LONG_HEX.sub("<hex>", message)
    message = _NUMBER.sub("<n>", message)
    return _SPACE.sub(" ", message).strip()


def _looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text
