"""A small document model rendered to Markdown and to self-contained HTML.

The report is built once as :class:`Section` objects; both renderings come from
it, so the Markdown and the HTML always say the same thing. Text is plain (no
markup): the Markdown writer escapes table pipes, the HTML writer escapes
everything. Images are PNG bytes: a file link in Markdown, a ``data:`` URI in HTML.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    numeric: frozenset[int] = frozenset()  # right-aligned columns
    source_col: int | None = None  # shown small, monospaced; may hold several lines
    caption: str | None = None
    quote_col: int | None = None  # untrusted text (model output): a code span in Markdown


@dataclass
class Image:
    file: str  # file name inside the report folder
    alt: str
    data: bytes
    caption: str | None = None


@dataclass
class Bullets:
    items: list[str]
    kind: str = "plain"  # "plain" or "note" (rendered as a call-out in HTML)


@dataclass
class Paragraph:
    text: str


Block = Table | Image | Bullets | Paragraph


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)
    level: int = 2


# --------------------------------------------------------------------------
# Markdown


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def _md_code(text: str) -> str:
    """``text`` as one inline code span, so Markdown reads none of it as markup: the fence
    is one backtick longer than any run of backticks inside (CommonMark)."""
    text = " ".join(text.split())
    if not text:
        return ""
    longest = max((len(r) for r in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


def _md_table(t: Table) -> list[str]:
    out: list[str] = []
    if t.caption:
        out += [f"*{t.caption}*", ""]
    out.append("| " + " | ".join(_md_cell(h) for h in t.headers) + " |")
    out.append(
        "|" + "|".join("---:" if i in t.numeric else "---" for i in range(len(t.headers))) + "|"
    )
    for row in t.rows:
        cells = []
        for i, c in enumerate(row):
            if i == t.source_col and c:
                c = "<br>".join(f"`{p}`" for p in c.split("\n"))
                cells.append(c.replace("|", "\\|"))
            elif i == t.quote_col:
                cells.append(_md_code(c))
            else:
                cells.append(_md_cell(c))
        out.append("| " + " | ".join(cells) + " |")
    return out


def to_markdown(title: str, sections: list[Section]) -> str:
    lines = [f"# {title}", ""]
    for s in sections:
        lines += ["#" * s.level + " " + s.title, ""]
        for b in s.blocks:
            if isinstance(b, Paragraph):
                lines += [b.text, ""]
            elif isinstance(b, Bullets):
                prefix = "> " if b.kind == "note" else ""
                lines += [f"{prefix}- {item}" for item in b.items] + [""]
            elif isinstance(b, Table):
                lines += _md_table(b) + [""]
            else:
                lines += [f"![{b.alt}]({b.file})", ""]
                if b.caption:
                    lines += [f"*{b.caption}*", ""]
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------
# HTML

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d1f;
       max-width: 1180px; margin: 24px auto; padding: 0 24px; line-height: 1.45; font-size: 15px; }
h1 { font-size: 26px; border-bottom: 2px solid #4a7ab5; padding-bottom: 6px; }
h2 { font-size: 20px; margin-top: 36px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 16px; margin-top: 24px; }
table { border-collapse: collapse; margin: 10px 0 18px; font-size: 13px; }
th, td { border: 1px solid #d5d5d5; padding: 4px 8px; vertical-align: top; text-align: left; }
th { background: #eef2f7; white-space: nowrap; }
tr:nth-child(even) td { background: #fafafa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.src { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 11px; color: #666;
         max-width: 420px; }
caption { caption-side: top; text-align: left; font-style: italic; color: #555; padding: 2px 0; }
figure { margin: 12px 0 22px; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 13px; color: #555; }
.note { background: #fff8e6; border-left: 4px solid #e0a800; padding: 6px 12px 6px 4px; }
.note li { margin: 3px 0; }
""".strip()


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _html_table(t: Table) -> str:
    out = ["<table>"]
    if t.caption:
        out.append(f"<caption>{_e(t.caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in t.headers) + "</tr></thead>")
    out.append("<tbody>")
    for row in t.rows:
        cells = []
        for i, c in enumerate(row):
            if i == t.source_col:
                # paths may break after a slash, never inside a name
                text = "<br>".join(_e(x).replace("/", "/<wbr>") for x in c.split("\n"))
                cells.append(f"<td class='src'>{text}</td>")
                continue
            cls = " class='num'" if i in t.numeric else ""
            cells.append(f"<td{cls}>" + "<br>".join(_e(x) for x in c.split("\n")) + "</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def to_html(title: str, sections: list[Section]) -> str:
    body: list[str] = [f"<h1>{_e(title)}</h1>"]
    for s in sections:
        level = min(6, max(2, s.level))
        body.append(f"<h{level}>{_e(s.title)}</h{level}>")
        for b in s.blocks:
            if isinstance(b, Paragraph):
                body.append(f"<p>{_e(b.text)}</p>")
            elif isinstance(b, Bullets):
                cls = " class='note'" if b.kind == "note" else ""
                items = "".join(f"<li>{_e(i)}</li>" for i in b.items)
                body.append(f"<ul{cls}>{items}</ul>")
            elif isinstance(b, Table):
                body.append(_html_table(b))
            else:
                data = base64.b64encode(b.data).decode("ascii")
                cap = f"<figcaption>{_e(b.caption)}</figcaption>" if b.caption else ""
                body.append(
                    f"<figure><img alt='{_e(b.alt)}' src='data:image/png;base64,{data}'>"
                    f"{cap}</figure>"
                )
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{_e(title)}</title>\n<style>\n{CSS}\n</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
