"""`cnndsl check SPEC --list-params`: a network's knobs, their defaults and the values
each allows, as text or Markdown (`--format json` prints cnndsl.network.parameters)."""

from __future__ import annotations

from cnndsl.elaborate.values import describe
from cnndsl.escape import markdown, terminal


def _rows(found: dict) -> list[tuple[str, str, str]]:
    rows = []
    for p in found["params"]:
        values = ("any value" if p["choices"] is None
                  else "one of " + ", ".join(describe(c) for c in p["choices"]))
        if p["follows"]:
            values += f" (the default follows {', '.join(p['follows'])})"
        rows.append((p["name"], describe(p["default"]), values))
    return rows


def render_params(found: dict) -> str:
    rows = [tuple(terminal(cell, keep="") for cell in row) for row in _rows(found)]
    lines = [f"{found['network']} ({terminal(found['path'])}): parameters for --set NAME=VALUE"]
    if not rows:
        lines.append("  (none)")
    width = max((len(n) for n, _, _ in rows), default=0)
    dwidth = max((len(d) for _, d, _ in rows), default=0)
    for name, default, values in rows:
        lines.append(f"  {name.ljust(width)} = {default.ljust(dwidth)}   {values}")
    return "\n".join(lines)


def render_params_markdown(found: dict) -> str:
    lines = [f"### {found['network']} parameters", "", "| parameter | default | values |",
             "|---|---|---|"]
    for name, default, values in _rows(found):  # names are identifiers; values any text
        cells = (f"`{name}`", markdown(default), markdown(values))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
