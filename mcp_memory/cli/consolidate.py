"""``mcp-memory consolidate``: merge near-duplicates and archive dead weight now, or (``--dry-run``) say what
would be done and why, memory by memory.

On a data dir a server owns, that server runs it (over its socket); otherwise this process does, holding the
data dir's owner lock, or, on a Chroma server, the database's consolidation lease like serving processes do.
"""

from __future__ import annotations

import json

from mcp_memory.app import MemoryApp
from mcp_memory.cli.commands import owner_of, sole_writer
from mcp_memory.edge.ownership import OwnerInfo
from mcp_memory.errors import InvalidInput, Unavailable
from mcp_memory.memory.consolidation import ConsolidationReport

SHOWN = 500  # memories listed; the JSON has them all


def run_consolidate(app: MemoryApp, dry_run: bool, project: str | None) -> ConsolidationReport:
    owner = owner_of(app)
    if owner is not None:
        return consolidate_through_owner(owner, dry_run, project)
    with sole_writer(app):
        app.open_blocking()
        return app.consolidator.run_blocking(dry_run, project)


def consolidate_through_owner(owner: OwnerInfo, dry_run: bool, project: str | None) -> ConsolidationReport:
    import httpx2

    from mcp_memory.edge.owner_consolidate import CONSOLIDATE_PATH

    transport = httpx2.HTTPTransport(uds=str(owner.socket_path))
    headers = {"Authorization": f"Bearer {owner.secret}.cli", "Content-Type": "application/json"}
    body = json.dumps({"dry_run": dry_run, "project": project})
    try:
        with httpx2.Client(transport=transport, timeout=httpx2.Timeout(30.0, read=3600.0)) as client:
            response = client.post(f"http://localhost{CONSOLIDATE_PATH}", content=body, headers=headers)
    except httpx2.TransportError as exc:
        raise Unavailable(f"Cannot reach the server that owns the data dir ({exc}); run consolidate again.") from exc
    if response.status_code == 400:
        raise InvalidInput("project", str(response.json().get("message", "")))
    if response.status_code != 200:
        message = response.json().get("message", "") if response.content else ""
        raise Unavailable(
            f"The server that owns the data dir could not consolidate (HTTP {response.status_code}). {message}"
        )
    return ConsolidationReport.model_validate_json(response.content)


def consolidate_summary(report: ConsolidationReport) -> str:
    """What was done (or would be, in a dry run) and why, one line per memory."""
    if report.skipped:
        return f"Nothing done: {report.skipped}. Try again later."
    merges, archives = len(report.merged), len(report.archived)
    verb = ("Would merge", "archive") if report.dry_run else ("Merged", "archived")
    scope = f" in project '{report.project}'" if report.project else ""
    lines = [
        f"{verb[0]} {merges:,} near-duplicate(s) and {verb[1]} {archives:,} memory(ies){scope}; compared "
        f"{report.compared:,} memories in {report.seconds:.1f} s."
        + (" Dry run: nothing changed." if report.dry_run else "")
    ]
    rows = [f"merge    {m.id} into {m.into} ({_kind(m.type, m.project)}): {m.why}" for m in report.merged]
    rows += [f"archive  {a.id} ({_kind(a.type, a.project)}): {a.why}" for a in report.archived]
    lines += [f"  {row}" for row in rows[:SHOWN]]
    if len(rows) > SHOWN:
        lines.append(f"  ... and {len(rows) - SHOWN:,} more (--json lists all)")
    return "\n".join(lines)


def _kind(memory_type: str, project: str) -> str:
    return f"{memory_type}, project '{project}'" if project else memory_type
