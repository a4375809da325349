"""The audit report as ONE self-contained HTML page for people: no external asset, no network.

One look answers "is everything safe, and since when?": a headline (status, last complete check,
the rolling read-back's coverage as a gauge), the history of the last audits, a bar chart per
account, then the problem list (sortable, filterable, a fix command and a copy button per row)
and the detailed tables.

Charts are inline SVG written here (a few hundred bytes each, no library: a vendored charting
library would cost 50-200 KB of the 300 KB budget and a licence notice, for four simple shapes).
The one inline script only sorts, filters, pages and copies rows that are already in the HTML
(it never builds markup from data); a Content-Security-Policy allows that script by its hash and
nothing else (no request leaves the page). Every value from the report (usernames, URLs,
details: all of them come from the users' database or the Hub, untrusted) goes through
`html.escape` in `_e`, the only way text enters the page. Long lists are capped in the page
(the JSON report beside it has them all), so that the page stays under 300 KB for an archive of
a million URLs with 10,000 problems (tests/test_audit_page.py measures it).
"""

from __future__ import annotations

import base64
import hashlib
import html
import shlex
from collections.abc import Iterable
from typing import Any

from hfcheck.report.catalog import MESSAGES

# Caps that keep the page under 300 KB (a problem row with its URL and command is ~400 bytes);
# the JSON report beside the page has every row.
MAX_PROBLEM_ROWS = 300  # rows of the problem list in the page, paged by PAGE_ROWS
PAGE_ROWS = 50
MAX_ACCOUNT_ROWS = 100
MAX_ROW_PROBLEMS = 100
CHART_ACCOUNTS = 20  # bars per account; the others are summed in one bar
HISTORY_SHOWN = 365  # audits drawn (the history file keeps more)
HISTORY_ALL_POINTS = 60  # up to this many audits every one gets a dot; beyond, new ones and the last


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Hiragino Sans","Noto Sans CJK JP",sans-serif;\
margin:1.5rem auto;max-width:72rem;padding:0 1rem;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}\
h2{font-size:1.2rem;margin-top:2rem;border-bottom:2px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.92rem}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f1f3f5}tr:nth-child(even) td{background:#fafafa}
td.n{text-align:right;font-variant-numeric:tabular-nums}
td.w{word-break:break-all;max-width:32rem}
pre{background:#f6f8fa;border:1px solid #ddd;padding:.4rem .6rem;margin:.2rem 0;\
white-space:pre-wrap;word-break:break-all}
.note{color:#555;font-size:.9rem}
.headline{display:grid;grid-template-columns:1fr auto;gap:1rem 2rem;align-items:center;\
border:1px solid #ddd;border-left:.5rem solid #888;border-radius:6px;padding:1rem 1.25rem;margin:1rem 0}
.hl-ok{border-left-color:#2e8540;background:#f3faf4}.hl-problems{border-left-color:#c62828;background:#fdf3f2}.hl-incomplete{border-left-color:#d48806;background:#fff8ec}
.verdict{font-size:2rem;font-weight:700;margin:0}.hl-ok .verdict{color:#1e6b34}\
.hl-problems .verdict{color:#a61b1b}.hl-incomplete .verdict{color:#8a5300}
.headline p{margin:.25rem 0}.sub{font-weight:600}
.gauge{display:flex;align-items:center;gap:.75rem;max-width:24rem}.gauge svg{width:6.5rem;height:6.5rem;flex:none}
.gauge .pct{font-size:1.7rem;font-weight:700;display:block;line-height:1.1}.gauge small{display:block;color:#444}
.hist{display:grid;grid-template-columns:repeat(auto-fit,minmax(17rem,1fr));gap:1rem}
figure{margin:0;border:1px solid #e3e3e3;border-radius:6px;padding:.5rem .75rem}
figcaption{display:flex;justify-content:space-between;gap:.5rem;font-size:.9rem}figcaption b{font-size:1.15rem}
figure svg{width:100%;height:auto;display:block}\
.axis{display:flex;justify-content:space-between;font-size:.75rem;color:#666}
.ln{fill:none;stroke-width:2;vector-effect:non-scaling-stroke}.base{stroke:#bbb;stroke-width:1;vector-effect:non-scaling-stroke}
.c-problems{stroke:#c62828}.c-gaps{stroke:#d48806}.c-backed_up{stroke:#2e8540}
.pt{fill:#fff;stroke:#444;stroke-width:1.5}.pt.new{fill:#d32f2f;stroke:#8a1c1c}
.legend{display:flex;flex-wrap:wrap;gap:.3rem 1rem;font-size:.85rem;margin:.3rem 0 .6rem;padding:0;list-style:none}
.legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:-.1rem;border-radius:2px}
.bars{display:grid;grid-template-columns:minmax(6rem,12rem) 1fr minmax(8rem,auto);\
gap:.25rem .75rem;align-items:center;font-size:.88rem}
.bar-row{display:contents}.acct{overflow-wrap:anywhere}\
.bar-row svg{width:100%;height:1rem;display:block;background:#f4f4f4}
.nums{font-variant-numeric:tabular-nums;white-space:nowrap}.nums span{margin-right:.5rem}
.k-backed_up{fill:#4caf50;background:#4caf50;color:#1e6b34}.k-missing{fill:#d32f2f;background:#d32f2f;color:#a61b1b}
.k-wrong_path{fill:#8e24aa;background:#8e24aa;color:#6a1b7a}.k-unbacked_media{fill:#f0a000;background:#f0a000;color:#8a5300}
.nums .k-backed_up,.nums .k-missing,.nums .k-wrong_path,.nums .k-unbacked_media{background:none}
.clip{stroke:#333;stroke-dasharray:3 2}.nums .z{color:#bbb}.cards th{white-space:nowrap}
.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:.5rem 0}
.filters input,.filters select,button{font:inherit;font-size:.9rem;padding:.2rem .4rem}
.scroll{overflow-x:auto;max-width:100%}
#problems th button{all:unset;cursor:pointer;font-weight:600}\
#problems th button::after{content:" \\2195";color:#999;font-weight:400}
#problems{table-layout:fixed;width:100%}#problems td{overflow-wrap:anywhere}#problems td:nth-child(2){font-size:.8rem}
#problems th:nth-child(1){width:10%}#problems th:nth-child(2){width:15%}#problems th:nth-child(3){width:9%}
#problems th:nth-child(4){width:26%}#problems th:nth-child(5){width:17%}#problems th:nth-child(6){width:23%}
#problems td code{display:block;font-size:.78rem;word-break:break-all;margin-bottom:.2rem}
tr.pg,tr.fl{display:none}.pager{display:flex;gap:.5rem;align-items:center}
@media (max-width:40rem){body{margin:.5rem auto;padding:0 .5rem}.headline{grid-template-columns:1fr;padding:.75rem}
.verdict{font-size:1.6rem}.bars{grid-template-columns:1fr;gap:.1rem}.acct{font-weight:600;margin-top:.4rem}
table{font-size:.8rem}th,td{padding:.25rem .35rem}
table.cards,.cards tbody,.cards tr,.cards td{display:block;border:0;max-width:none}.cards thead{display:none}
.cards tr{border:1px solid #ccc;border-radius:4px;margin:.4rem 0;padding:.3rem .4rem}\
.cards td{padding:.1rem 0;text-align:left}
.cards td[data-label]::before{content:attr(data-label) ": ";color:#555}
#problems tr{display:block;border:1px solid #ccc;border-radius:4px;margin:.4rem 0;padding:.3rem .4rem}\
#problems thead tr{display:none}
#problems td{display:inline;border:0;padding:0 .4rem 0 0;max-width:none}#problems td:nth-child(n+4){display:block}
#problems tr.pg,#problems tr.fl{display:none}#problems td:first-child{font-weight:600}.filters .note{display:none}}
@media print{body{margin:0;max-width:none;font-size:10pt}\
.filters,.pager,button.copy,#problems th button::after{display:none}
#problems tr.pg{display:table-row}.scroll{overflow:visible}h2{break-after:avoid}figure,.headline,tr{break-inside:avoid}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}a{color:inherit}}
"""

# Sorts, filters and pages the problem rows already in the HTML, copies a row's command. It reads
# text and toggles classes only (no markup from data), so untrusted values stay inert.
SCRIPT = """
(function(){
var t=document.getElementById('problems');if(!t)return;
var body=t.tBodies[0],rows=[].slice.call(body.rows),shown=rows,page=0,per=+t.dataset.per,dir={};
var q=document.getElementById('pf'),kind=document.getElementById('pk'),pos=document.getElementById('ppos');
rows.forEach(function(r){r.k=[].slice.call(r.cells,0,5)\
.map(function(c){return c.textContent}).join(' ').toLowerCase()});
document.getElementById('pfilters').hidden=false;document.getElementById('ppager').hidden=false;
function draw(){var last=Math.max(0,Math.ceil(shown.length/per)-1);page=Math.min(page,last);
rows.forEach(function(r){r.className='fl'});
shown.forEach(function(r,i){r.className=(i>=page*per&&i<(page+1)*per)?'':'pg'});
var a=shown.length?page*per+1:0,b=Math.min(shown.length,(page+1)*per);
pos.textContent=pos.dataset.fmt.replace('{a}',a).replace('{b}',b).replace('{n}',shown.length);}
function filter(){var s=q.value.toLowerCase(),k=kind.value;
shown=rows.filter(function(r){return(!k||r.dataset.k===k)&&(!s||r.k.indexOf(s)>=0)});page=0;draw();}
q.addEventListener('input',filter);kind.addEventListener('change',filter);
document.getElementById('pprev').addEventListener('click',function(){if(page>0){page--;draw();}});
document.getElementById('pnext').addEventListener('click',function(){page++;draw();});
[].forEach.call(t.tHead.querySelectorAll('button'),function(btn,col){btn.addEventListener('click',function(){
var d=dir[col]=-(dir[col]||-1);
rows.sort(function(x,y){return d*x.cells[col].textContent\
.localeCompare(y.cells[col].textContent,undefined,{numeric:true})});
rows.forEach(function(r){body.appendChild(r)});filter();});});
body.addEventListener('click',function(ev){var btn=ev.target.closest('button.copy');if(!btn)return;
var text=btn.parentNode.querySelector('code').textContent,label=btn.textContent;
function done(){btn.textContent=t.dataset.done;setTimeout(function(){btn.textContent=label},1500)}
function fallback(){var ta=document.createElement('textarea');ta.value=text;document.body.appendChild(ta);ta.select();
try{document.execCommand('copy');done()}finally{ta.remove()}}
if(navigator.clipboard&&navigator.clipboard.writeText){navigator.clipboard.writeText(text).then(done,fallback)}else{fallback()}});
filter();
})();
"""
SCRIPT_HASH = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii")
CSP = (
    f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{SCRIPT_HASH}';"
    " base-uri 'none'; form-action 'none'"
)


class Page:
    """Builds the page; `_e` is the only way a value becomes text in it."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in ("en", "ja") else "en"
        self.parts: list[str] = []

    def label(self, key: str, **fmt: Any) -> str:
        """The page's own words (`page_KEY`), else the summaries' (`KEY`): one catalog for both."""
        entry = MESSAGES.get("page_" + key) or MESSAGES.get(key)
        text = (entry.get(self.lang) or entry["en"]) if entry else key
        return text.format(**fmt) if fmt else text

    def add(self, raw_html: str) -> None:
        self.parts.append(raw_html)

    def h2(self, key: str) -> None:
        self.add(f"<h2>{_e(self.label(key))}</h2>")

    def table(
        self,
        head: Iterable[str],
        rows: Iterable[Iterable[Any]],
        numeric: Iterable[int] = (),
        wrap: Iterable[int] = (),
        cards: bool = False,
    ) -> None:
        """A table of escaped cells; `numeric`/`wrap` are column indexes styled right/wrapped.
        It scrolls sideways on a narrow screen; `cards`: one labelled card per row there instead."""
        num, wr, head = set(numeric), set(wrap), list(head)
        out = ['<div class="scroll"><table class="cards">' if cards else '<div class="scroll"><table>']
        if any(head):  # key/value tables have no header row
            out += ["<thead><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr></thead>"]
        out.append("<tbody>")
        for row in rows:
            out.append("<tr>")
            for i, cell in enumerate(row):
                cls = ' class="n"' if i in num else ' class="w"' if i in wr else ""
                if cards and i < len(head) and head[i] and i:
                    cls += f' data-label="{_e(head[i])}"'
                out.append(f"<td{cls}>{_cell(cell)}</td>")
            out.append("</tr>")
        out.append("</tbody></table></div>")
        self.add("".join(out))

    def note(self, text: str) -> None:
        self.add(f'<p class="note">{_e(text)}</p>')


class Raw(str):
    """Already-escaped HTML built here (e.g. a list of <pre> commands)."""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _cell(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool) or value is None:
        return _e("" if value is None else value)
    if isinstance(value, int):
        return f"{value:,}"
    return _e(value)


def render_audit_html(report: dict[str, Any], lang: str = "en", history: list[dict[str, Any]] | None = None) -> str:
    """The whole page as a string (UTF-8, `<html lang>` set, inline CSS/SVG/script only).

    `history`: the audits so far, oldest first, this one last (audit_history.json's entries)."""
    p = Page(lang)
    history = [e for e in history or [] if isinstance(e, dict)]
    _header(p, report)
    _history(p, history)
    _account_chart(p, report.get("accounts", []))
    _plan(p, report.get("plan", []))
    _problems(p, report)
    p.add(f"<h2>{_e(p.label('pg_details'))}</h2>")
    _verify_counts(p, report.get("verify", {}))
    _gaps(p, report.get("gaps", {}))
    _deep(p, report.get("deep"))
    _accounts(p, report.get("accounts", []))
    _row_problems(p, report.get("verify", {}).get("row_problems", []))
    _archive(p, report.get("archive", {}))
    body = "\n".join(p.parts)
    return (
        f'<!DOCTYPE html>\n<html lang="{p.lang}"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(p.label('title'))}</title><style>{CSS}</style></head>\n<body>\n{body}\n"
        f"<script>{SCRIPT}</script>\n</body></html>\n"
    )


def _int(value: Any) -> int:
    """A count from the report or history (untrusted file): anything else is 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _when(iso: Any) -> str:
    """`2025-06-01T12:34:56+00:00` as `2025-06-01 12:34 UTC` (other text as it is)."""
    text = "" if iso is None else str(iso)
    if len(text) >= 16 and text[10] == "T":
        return f"{text[:10]} {text[11:16]}" + (" UTC" if text.endswith(("+00:00", "Z")) else "")
    return text


def _header(p: Page, r: dict[str, Any]) -> None:
    """Title and the headline: the verdict, since when, and the coverage gauge."""
    status = str(r.get("status", "incomplete"))
    status = status if status in ("ok", "problems", "incomplete") else "incomplete"
    raw = r.get("headline")
    hl: dict[str, Any] = raw if isinstance(raw, dict) else {}
    p.add(f"<h1>{_e(p.label('title'))}</h1>")
    p.add(f'<p class="note">{_e(p.label("generated"))}: {_e(_when(r.get("generated_at")))}</p>')
    lines = [f'<p class="verdict" id="status">{_e(p.label("pg_" + status))}</p>']
    counts = p.label(
        "pg_counts",
        problems=f"{_int(hl.get('problems')):,}",
        gaps=f"{_int(hl.get('gaps')):,}",
        unknown=f"{_int(hl.get('unknown')):,}",
    )
    sub = counts if status == "problems" else f"{p.label(status)} — {counts}"  # "Problems found" is said already
    lines.append(f'<p class="sub" id="summary">{_e(sub)}</p>')
    last = hl.get("last_complete_at")
    text = p.label("pg_last_complete", at=_when(last)) if last else p.label("pg_never_complete")
    lines.append(f'<p id="last-complete">{_e(text)}</p>')
    if status == "ok" and hl.get("safe_since"):
        lines.append(f'<p id="safe-since">{_e(p.label("pg_safe_since", at=_when(hl["safe_since"])))}</p>')
    if r.get("read_only"):
        lines.append(f'<p class="note">{_e(p.label("read_only"))}</p>')
    p.add(
        f'<section class="headline hl-{status}" id="headline"><div>{"".join(lines)}</div>'
        f"{_gauge(p, hl.get('coverage'))}</section>"
    )


def _gauge(p: Page, cov: Any) -> str:
    """A ring filled to the share of files read back and decrypted in the rolling window."""
    cov = cov if isinstance(cov, dict) else {}
    covered, total, audits = _int(cov.get("covered")), _int(cov.get("candidates")), max(1, _int(cov.get("audits")))
    known = isinstance(cov.get("covered"), int) and total > 0
    share = min(1.0, covered / total) if known else 0.0
    r, circ = 42, 2 * 3.14159265 * 42
    color = "#2e8540" if share >= 0.95 else "#d48806" if share >= 0.5 else "#c62828"
    ring = (
        f'<svg viewBox="0 0 100 100" role="img" aria-label="{_e(p.label("pg_coverage"))}">'
        f'<circle cx="50" cy="50" r="{r}" fill="none" stroke="#e6e6e6" stroke-width="12"/>'
        f'<circle cx="50" cy="50" r="{r}" fill="none" stroke="{color}" stroke-width="12" stroke-linecap="butt" '
        f'stroke-dasharray="{share * circ:.1f} {circ:.1f}" transform="rotate(-90 50 50)"/></svg>'
    )
    if known:
        pct = f"{share * 100:.1f}%" if 0 < share < 0.995 else f"{share * 100:.0f}%"
        files = p.label("pg_coverage_files", covered=f"{covered:,}", total=f"{total:,}")
        text = (
            f'<span class="pct" id="coverage-figure" data-covered="{covered}" data-total="{total}">{_e(pct)}</span>'
            f"<small>{_e(p.label('pg_coverage_what', n=audits))}</small><small>{_e(files)}</small>"
        )
    else:
        none = "pg_coverage_unknown" if cov.get("unknown") else "pg_coverage_none"
        text = f'<span class="pct" id="coverage-figure">—</span><small>{_e(p.label(none))}</small>'
    return (
        f'<div class="gauge" id="coverage" title="{_e(p.label("pg_coverage"))}">{ring}'
        f"<div><b>{_e(p.label('pg_coverage'))}</b>{text}</div></div>"
    )


def _history(p: Page, history: list[dict[str, Any]]) -> None:
    """Problems, gaps and backed-up files over the last audits: one small chart each (own
    scale: a million backed-up files would flatten a dozen problems), new findings in red."""
    shown = history[-HISTORY_SHOWN:]
    if not shown:
        return
    p.add(f"<h2>{_e(p.label('pg_history'))}</h2>")
    p.note(p.label("pg_history_note", n=len(shown)))
    w, h, pad, n = 600, 110, 8, len(shown)
    xs = [pad + (w - 2 * pad) * (i / (n - 1) if n > 1 else 0.5) for i in range(n)]
    first, last = _when(shown[0].get("at")), _when(shown[-1].get("at"))
    figures = []
    for key, label in (("problems", "pg_h_problems"), ("gaps", "pg_h_gaps"), ("backed_up", "pg_h_backed_up")):
        vals = [_int(e.get(key)) for e in shown]
        top = max(vals) or 1
        ys = [h - pad - (h - 2 * pad) * v / top for v in vals]
        line = " ".join(f"{x:.0f},{y:.0f}" for x, y in zip(xs, ys, strict=True))
        dots = []
        for i, (e, v) in enumerate(zip(shown, vals, strict=True)):
            new = _int(e.get("new"))
            if n <= HISTORY_ALL_POINTS or new or i == n - 1:
                tip = f"{_when(e.get('at'))}: {v:,}" + (f" ({p.label('pg_h_new', n=new)})" if new else "")
                cls = "pt new" if new else "pt"
                dots.append(
                    f'<circle class="{cls}" cx="{xs[i]:.1f}" cy="{ys[i]:.1f}" r="4" data-value="{v}">'
                    f"<title>{_e(tip)}</title></circle>"
                )
        svg = (
            f'<svg viewBox="0 0 {w} {h}" role="img" aria-label="{_e(p.label(label))}">'
            f'<line class="base" x1="0" y1="{h - pad}" x2="{w}" y2="{h - pad}"/>'
            f'<polyline class="ln c-{key}" points="{line}"/>{"".join(dots)}</svg>'
        )
        cap = (
            f"<figcaption><span>{_e(p.label(label))} <b>{vals[-1]:,}</b></span>"
            f'<span class="note">{_e(p.label("pg_h_max", n=f"{max(vals):,}"))}</span></figcaption>'
        )
        figures.append(
            f'<figure data-series="{key}">{cap}{svg}'
            f'<div class="axis"><span>{_e(first)}</span><span>{_e(last)}</span></div></figure>'
        )
    p.add(f'<div class="hist" id="history">{"".join(figures)}</div>')


CHART_KINDS = ("backed_up", "missing", "wrong_path", "unbacked_media")


def _account_chart(p: Page, accounts: list[dict[str, Any]]) -> None:
    """Files backed up, missing, on a wrong path and not backed up, per account: the top
    CHART_ACCOUNTS (most files to fix or back up first) and the rest summed in one bar. One scale
    for all bars, so the account with most to do stands out; a rest larger than that is cut."""
    rows = [
        (str(a.get("username") or "—"), {k: _int(a.get(k)) for k in CHART_KINDS})
        for a in accounts
        if isinstance(a, dict)
    ]
    if not rows:
        return
    rows.sort(
        key=lambda r: (-(r[1]["missing"] + r[1]["wrong_path"] + r[1]["unbacked_media"]), -r[1]["backed_up"], r[0])
    )
    top, rest = rows[:CHART_ACCOUNTS], rows[CHART_ACCOUNTS:]
    if rest:
        summed = {k: sum(r[1][k] for r in rest) for k in CHART_KINDS}
        top.append((p.label("pg_others", n=f"{len(rest):,}"), summed))
    scale = max(1, *(sum(v.values()) for _, v in top[:CHART_ACCOUNTS]))
    p.add(f"<h2>{_e(p.label('pg_accounts_chart', n=min(CHART_ACCOUNTS, len(rows))))}</h2>")
    p.add(
        '<ul class="legend">'
        + "".join(f'<li><i class="k-{k}"></i>{_e(p.label("pg_" + k))}</li>' for k in CHART_KINDS)
        + "</ul>"
    )
    out = ['<div class="bars" id="account-bars">']
    for i, (name, v) in enumerate(top):
        x, rects = 0.0, []
        for k in CHART_KINDS:
            if not v[k] or x >= 1000:
                continue
            width = min(1000 - x, max(3.0, 1000 * v[k] / scale))
            rects.append(
                f'<rect class="k-{k}" x="{x:.1f}" y="0" width="{width:.1f}" height="10"'
                f' data-kind="{k}" data-value="{v[k]}">'
                f"<title>{_e(p.label('pg_' + k))}: {v[k]:,}</title></rect>"
            )
            x += width
        clip = '<line class="clip" x1="998" y1="0" x2="998" y2="10"/>' if sum(v.values()) > scale else ""
        nums = "".join(
            f'<span class="k-{k}{" z" if not v[k] else ""}" title="{_e(p.label("pg_" + k))}">{v[k]:,}</span>'
            for k in CHART_KINDS
        )
        rest_cls = " rest" if rest and i == len(top) - 1 else ""
        out.append(
            f'<div class="bar-row{rest_cls}" data-account="{_e(name)}"><span class="acct">{_e(name)}</span>'
            f'<svg viewBox="0 0 1000 10" preserveAspectRatio="none" role="img" aria-label="{_e(name)}">'
            f"{''.join(rects)}{clip}</svg>"
            f'<span class="nums">{nums}</span></div>'
        )
    out.append("</div>")
    p.add("".join(out))


def _archive(p: Page, a: dict[str, Any]) -> None:
    p.add(f"<h3>{_e(p.label('archive'))}</h3>")
    p.table(["", ""], [(k, ", ".join(map(str, v)) if isinstance(v, list) else v) for k, v in a.items()], wrap=[1])


def _verify_counts(p: Page, v: dict[str, Any]) -> None:
    counts = v.get("counts", {})
    p.add(f"<h3>{_e(p.label('counts'))}</h3>")
    p.table(
        [p.label("category"), "", p.label("count")], [(p.label(k), k, counts.get(k, 0)) for k in counts], numeric=[2]
    )
    if v.get("repo_problems"):
        p.add(f"<h3>{_e(p.label('repo_problems'))}</h3>")
        p.table(
            ["repo", p.label("category"), p.label("urls"), p.label("detail")],
            [
                (f"{rp.get('repo_id')}@{rp.get('revision')}", rp.get("category"), rp.get("urls"), rp.get("detail"))
                for rp in v["repo_problems"]
            ],
            numeric=[2],
        )


def _gaps(p: Page, g: dict[str, Any]) -> None:
    p.add(f"<h3>{_e(p.label('gaps'))}</h3>")
    keys = ("unbacked", "partial", "unbacked_media", "empty_media")
    p.table([p.label("category"), "", p.label("count")], [(p.label(k), k, g.get(k, 0)) for k in keys], numeric=[2])


def _deep(p: Page, d: dict[str, Any] | None) -> None:
    if not d:
        return
    p.add(f"<h3>{_e(p.label('deep'))}</h3>")
    p.table(
        ["", ""],
        [
            (p.label("sample"), d.get("sample")),
            (p.label("candidates"), d.get("candidates", 0)),
            (p.label("checked"), d.get("checked", 0)),
        ],
        numeric=[1],
    )
    counts = d.get("counts", {})
    p.table([p.label("category"), "", p.label("count")], [(p.label(k), k, v) for k, v in counts.items()], numeric=[2])
    rec = d.get("recorded")
    if rec:
        p.add(f"<h4>{_e(p.label('recorded'))}</h4>")
        p.table(
            [p.label("category"), "", p.label("count")],
            [(p.label(k), k, rec.get(k, 0)) for k in ("compared", "matched", "differs", "absent")],
            numeric=[2],
        )
        for repo in rec.get("unverified_repos", []):
            p.note(f"{p.label('unverified')}: {repo}")


def _plan(p: Page, plan: list[dict[str, Any]]) -> None:
    p.h2("plan")
    if not plan:
        p.note(p.label("nothing_to_do"))
        return
    rows = []
    for item in plan:
        cmds = "".join(f"<pre><code>{_e(c)}</code></pre>" for c in item.get("commands", []))
        if item.get("more_tweets"):
            cmds += f'<p class="note">{_e(p.label("more_tweets", n=item["more_tweets"]))}</p>'
        kind = str(item.get("kind", ""))
        if kind == "deep_unknown_format":
            cmds += f'<p class="note">{_e(p.label("pg_unknown_format_fix"))}</p>'
        rows.append(
            (
                Raw(f"{_e(p.label(kind))}<br><code>{_e(kind)}</code>"),
                p.label(str(item.get("tool", ""))),
                item.get("files"),
                item.get("tweets"),
                Raw(cmds),
            )
        )
    p.table(
        [p.label("kind"), p.label("tool"), p.label("files"), p.label("tweets"), p.label("commands")],
        rows,
        numeric=[2, 3],
        cards=True,
    )


def _accounts(p: Page, accounts: list[dict[str, Any]]) -> None:
    p.add(f"<h3>{_e(p.label('accounts'))}</h3>")
    keys = (
        "tweets",
        "urls",
        "backed_up",
        "missing",
        "wrong_path",
        "malformed",
        "unverified",
        "unbacked",
        "partial",
        "unbacked_media",
        "empty_media",
        "deep_problems",
    )
    shown = accounts[:MAX_ACCOUNT_ROWS]
    p.table(
        [p.label("account"), *(p.label(k) for k in keys)],
        [(a.get("username") or "—", *(a.get(k, 0) for k in keys)) for a in shown],
        numeric=range(1, len(keys) + 1),
    )
    if len(accounts) > len(shown):
        p.note(p.label("shown_first", n=len(shown), total=len(accounts)))


def _problems(p: Page, r: dict[str, Any]) -> None:
    """Verify's problem URLs, then read-back problems, then recorded-upload mismatches (capped),
    each with the command that fixes it; sorted, filtered and paged by SCRIPT."""
    verify = r.get("verify", {})
    items = [
        (str(f.get("category")), f.get("tweet_id"), f.get("username"), f.get("url"), f.get("detail"))
        for f in verify.get("problems", [])
    ]
    deep = r.get("deep") or {}
    items += [
        (f"deep_{f.get('category')}", f.get("tweet_id"), f.get("username"), f.get("path"), f.get("detail"))
        for f in deep.get("problems", [])
    ]
    items += [
        (f"recorded_{f.get('category')}", "", "", f"{f.get('repo_id')}/{f.get('path')}", f.get("detail"))
        for f in (deep.get("recorded") or {}).get("problems", [])
    ]
    p.h2("problem_list")
    if not items:
        p.note(p.label("none"))
        return
    raw = r.get("fixes")
    fixes: dict[str, Any] = raw if isinstance(raw, dict) else {}
    shown = items[:MAX_PROBLEM_ROWS]
    kinds = sorted({k for k, *_ in shown}, key=lambda k: p.label(k))
    options = "".join(f'<option value="{_e(k)}">{_e(p.label(k))}</option>' for k in kinds)
    p.add(
        f'<div class="filters" id="pfilters" hidden><input type="search" id="pf"'
        f' placeholder="{_e(p.label("pg_filter"))}" aria-label="{_e(p.label("pg_filter"))}">'
        f'<select id="pk" aria-label="{_e(p.label("kind"))}">'
        f'<option value="">{_e(p.label("pg_all_kinds"))}</option>{options}</select>'
        f'<span class="note">{_e(p.label("pg_sort_hint"))}</span></div>'
    )
    head = [p.label(k) for k in ("category", "tweet", "account", "where", "detail")]
    out = [
        f'<div class="scroll"><table id="problems" data-per="{PAGE_ROWS}" data-done="{_e(p.label("pg_copied"))}">'
        "<thead><tr>"
    ]
    out += [f'<th><button type="button">{_e(h)}</button></th>' for h in head]
    out.append(f"<th>{_e(p.label('pg_fix'))}</th></tr></thead><tbody>")
    copy = _e(p.label("pg_copy"))
    for i, (kind, tweet, user, where, detail) in enumerate(shown):
        template = fixes.get(kind)
        if isinstance(template, str) and ("{tweet}" not in template or tweet):
            cmd = template.replace("{tweet}", shlex.quote(str(tweet)))
            fix = f'<code>{_e(cmd)}</code><button class="copy">{copy}</button>'
        else:
            why = "pg_unknown_format_fix" if kind == "deep_unknown_format" else "pg_no_fix"
            fix = f'<span class="note">{_e(p.label(why))}</span>'
        cls = ' class="pg"' if i >= PAGE_ROWS else ""  # without the script: the first page
        out.append(
            f'<tr data-k="{_e(kind)}"{cls}><td>{_e(p.label(kind))}</td><td>{_e(tweet)}</td><td>{_e(user)}</td>'
            f"<td>{_e(where)}</td><td>{_e(detail)}</td><td>{fix}</td></tr>"
        )
    out.append("</tbody></table></div>")
    out.append(
        f'<div class="pager" id="ppager" hidden><button type="button" id="pprev">{_e(p.label("pg_prev"))}</button>'
        f'<span id="ppos" data-fmt="{_e(p.label("pg_rows"))}"></span>'
        f'<button type="button" id="pnext">{_e(p.label("pg_next"))}</button></div>'
    )
    p.add("".join(out))
    if len(items) > len(shown):
        p.note(p.label("shown_first", n=f"{len(shown):,}", total=f"{len(items):,}"))


def _row_problems(p: Page, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    p.add(f"<h3>{_e(p.label('row_problems'))}</h3>")
    p.table(
        [p.label("tweet"), p.label("column"), "code", p.label("detail")],
        [(x.get("tweet_id"), x.get("column"), x.get("code"), x.get("detail")) for x in rows[:MAX_ROW_PROBLEMS]],
        wrap=[3],
    )
    if len(rows) > MAX_ROW_PROBLEMS:
        p.note(p.label("shown_first", n=MAX_ROW_PROBLEMS, total=len(rows)))


__all__ = ["render_audit_html"]
