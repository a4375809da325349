"""The audit report as ONE self-contained HTML page for people (no script, no external asset).

Every value from the report (usernames, URLs, details: all of them come from the users'
database or the Hub, untrusted) goes through `html.escape` in `_e`, the only way text enters
the page. Long lists are capped in the page (the JSON report beside it has them all).
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from hfcheck.report.catalog import MESSAGES

MAX_PROBLEM_ROWS = 2000
MAX_ACCOUNT_ROWS = 300
MAX_ROW_PROBLEMS = 500

LABELS: dict[str, dict[str, str]] = {
    "title": {"en": "hfcheck audit report", "ja": "hfcheck 監査レポート"},
    "generated": {"en": "Generated", "ja": "作成日時"},
    "status": {"en": "Result", "ja": "結果"},
    "ok": {"en": "All checked backups are complete", "ja": "確認したバックアップはすべて完全です"},
    "problems": {"en": "Problems found", "ja": "問題があります"},
    "incomplete": {"en": "Could not check everything (run again)", "ja": "すべてを確認できませんでした（再実行してください）"},
    "read_only": {"en": "Read-only: nothing was changed on the Hub, in the database or in the local media.", "ja": "読み取り専用：Hub・データベース・ローカルメディアは一切変更していません。"},
    "archive": {"en": "Archive", "ja": "アーカイブ"},
    "counts": {"en": "Recorded backup URLs by category", "ja": "カテゴリ別のバックアップURL"},
    "category": {"en": "Category", "ja": "カテゴリ"},
    "count": {"en": "Count", "ja": "件数"},
    "gaps": {"en": "Media without a complete backup", "ja": "バックアップされていないメディア"},
    "deep": {"en": "Read-back check (download, decrypt, compare)", "ja": "読み戻し検査（ダウンロード・復号・比較）"},
    "sample": {"en": "Sample", "ja": "サンプル"},
    "candidates": {"en": "Present files considered", "ja": "対象ファイル数"},
    "checked": {"en": "Files read back", "ja": "読み戻したファイル数"},
    "recorded": {"en": "Recorded uploads vs repo listing (no download)", "ja": "記録済みアップロードとリポジトリ一覧の比較（ダウンロードなし）"},
    "plan": {"en": "What to run", "ja": "実行すべきコマンド"},
    "kind": {"en": "Kind", "ja": "種類"},
    "tool": {"en": "Command", "ja": "コマンド"},
    "files": {"en": "Files", "ja": "ファイル"},
    "tweets": {"en": "Tweets", "ja": "ツイート"},
    "commands": {"en": "Exact commands", "ja": "コマンド"},
    "nothing_to_do": {"en": "Nothing to repair.", "ja": "修復の必要はありません。"},
    "accounts": {"en": "By account", "ja": "アカウント別"},
    "account": {"en": "Account", "ja": "アカウント"},
    "urls": {"en": "Backup URLs", "ja": "バックアップURL"},
    "problem_list": {"en": "Problems", "ja": "問題一覧"},
    "tweet": {"en": "Tweet", "ja": "ツイート"},
    "where": {"en": "URL / path", "ja": "URL／パス"},
    "detail": {"en": "Detail", "ja": "詳細"},
    "repo_problems": {"en": "Repo problems", "ja": "リポジトリの問題"},
    "column": {"en": "Column", "ja": "列"},
    "shown_first": {"en": "Showing the first {n} of {total}; all are in audit_report.json.", "ja": "{total} 件中 最初の {n} 件を表示（全件は audit_report.json）。"},
    "more_tweets": {"en": "… and {n} more tweets (see audit_report.json)", "ja": "… ほか {n} ツイート（audit_report.json を参照）"},
    "none": {"en": "None.", "ja": "なし。"},
    # categories: the same words as in code and JSON
    "missing": {"en": "Missing", "ja": "欠落"},
    "wrong_path": {"en": "Wrong path", "ja": "誤ったパス"},
    "deleted_on_x": {"en": "Lost media lists of tweets deleted on X: nothing left to recover", "ja": "X で削除済みのツイートのメディアリスト（復元不可）"},
    "deep_ok": {"en": "Decrypts to the local file", "ja": "復号結果がローカルと一致"},
    "differs": {"en": "Differs", "ja": "不一致"},
    "decrypt_failed": {"en": "Decryption failed", "ja": "復号失敗"},
    "local_missing": {"en": "No local file to compare", "ja": "比較するローカルファイルなし"},
    "compared": {"en": "Compared", "ja": "比較数"},
    "matched": {"en": "Matched", "ja": "一致"},
    "absent": {"en": "Recorded but not listed", "ja": "記録あり・一覧になし"},
    "deep_problems": {"en": "Read-back problems", "ja": "読み戻しの問題"},
    "deep_local_missing": {"en": "Local file lost (backup is good)", "ja": "ローカルファイル消失（バックアップは正常）"},
    "deep_differs": {"en": "Backup differs from local", "ja": "バックアップとローカルが不一致"},
    "deep_decrypt_failed": {"en": "Backup does not decrypt", "ja": "バックアップを復号できない"},
    "recorded_differs": {"en": "Hub file differs from the recorded upload", "ja": "Hub上のファイルが記録と異なる"},
    "repair": {"en": "repair", "ja": "repair（修復）"},
    "backup": {"en": "backup", "ja": "backup（バックアップ）"},
    "restore": {"en": "restore", "ja": "restore（復元）"},
    "audit": {"en": "audit", "ja": "audit（再監査）"},
    "verify": {"en": "verify", "ja": "verify（検証）"},
}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Hiragino Sans","Noto Sans CJK JP",sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:2px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.92rem}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f1f3f5}tr:nth-child(even) td{background:#fafafa}
td.n{text-align:right;font-variant-numeric:tabular-nums}
td.w{word-break:break-all;max-width:32rem}
pre{background:#f6f8fa;border:1px solid #ddd;padding:.4rem .6rem;margin:.2rem 0;white-space:pre-wrap;word-break:break-all}
.status{padding:.6rem 1rem;border-radius:4px;font-weight:600;display:inline-block}
.s-ok{background:#e6f4ea;color:#1e6b34}.s-problems{background:#fdecea;color:#8a1c1c}.s-incomplete{background:#fff4e5;color:#7a4a00}
.note{color:#555;font-size:.9rem}
"""


class Page:
    """Builds the page; `_e` is the only way a value becomes text in it."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in ("en", "ja") else "en"
        self.parts: list[str] = []

    def label(self, key: str, **fmt: Any) -> str:
        """The page's own words, else the summaries' (one source for the category words)."""
        entry = LABELS.get(key) or MESSAGES.get(key)
        text = (entry.get(self.lang) or entry["en"]) if entry else key
        return text.format(**fmt) if fmt else text

    def add(self, raw_html: str) -> None:
        self.parts.append(raw_html)

    def h2(self, key: str) -> None:
        self.add(f"<h2>{_e(self.label(key))}</h2>")

    def table(self, head: Iterable[str], rows: Iterable[Iterable[Any]], numeric: Iterable[int] = (), wrap: Iterable[int] = ()) -> None:
        """A table of escaped cells; `numeric`/`wrap` are column indexes styled right/wrapped."""
        num, wr, head = set(numeric), set(wrap), list(head)
        out = ["<table>"]
        if any(head):  # key/value tables have no header row
            out += ["<thead><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr></thead>"]
        out.append("<tbody>")
        for row in rows:
            out.append("<tr>")
            for i, cell in enumerate(row):
                cls = ' class="n"' if i in num else ' class="w"' if i in wr else ""
                out.append(f"<td{cls}>{_cell(cell)}</td>")
            out.append("</tr>")
        out.append("</tbody></table>")
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


def render_audit_html(report: dict[str, Any], lang: str = "en") -> str:
    """The whole page as a string (UTF-8, `<html lang>` set, inline CSS only)."""
    p = Page(lang)
    _header(p, report)
    _verify_counts(p, report.get("verify", {}))
    _gaps(p, report.get("gaps", {}))
    _deep(p, report.get("deep"))
    _plan(p, report.get("plan", []))
    _accounts(p, report.get("accounts", []))
    _problems(p, report)
    body = "\n".join(p.parts)
    return (
        f'<!DOCTYPE html>\n<html lang="{p.lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(p.label('title'))}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _header(p: Page, r: dict[str, Any]) -> None:
    status = str(r.get("status", "incomplete"))
    status = status if status in ("ok", "problems", "incomplete") else "incomplete"
    p.add(f"<h1>{_e(p.label('title'))}</h1>")
    p.add(f'<p>{_e(p.label("generated"))}: {_e(r.get("generated_at"))}</p>')
    p.add(f'<p class="status s-{status}" id="status">{_e(p.label("status"))}: {_e(p.label(status))}</p>')
    if r.get("read_only"):
        p.note(p.label("read_only"))
    a = r.get("archive", {})
    p.h2("archive")
    p.table(["", ""], [(k, ", ".join(map(str, v)) if isinstance(v, list) else v) for k, v in a.items()], wrap=[1])


def _verify_counts(p: Page, v: dict[str, Any]) -> None:
    counts = v.get("counts", {})
    p.h2("counts")
    p.table([p.label("category"), "", p.label("count")], [(p.label(k), k, counts.get(k, 0)) for k in counts], numeric=[2])
    if v.get("repo_problems"):
        p.add(f"<h3>{_e(p.label('repo_problems'))}</h3>")
        p.table(["repo", p.label("category"), p.label("urls"), p.label("detail")], [(f"{rp.get('repo_id')}@{rp.get('revision')}", rp.get("category"), rp.get("urls"), rp.get("detail")) for rp in v["repo_problems"]], numeric=[2])


def _gaps(p: Page, g: dict[str, Any]) -> None:
    p.h2("gaps")
    keys = ("unbacked", "partial", "unbacked_media", "empty_media")
    p.table([p.label("category"), "", p.label("count")], [(p.label(k), k, g.get(k, 0)) for k in keys], numeric=[2])


def _deep(p: Page, d: dict[str, Any] | None) -> None:
    if not d:
        return
    p.h2("deep")
    p.table(["", ""], [(p.label("sample"), d.get("sample")), (p.label("candidates"), d.get("candidates", 0)), (p.label("checked"), d.get("checked", 0))], numeric=[1])
    counts = d.get("counts", {})
    p.table([p.label("category"), "", p.label("count")], [(p.label(k), k, v) for k, v in counts.items()], numeric=[2])
    rec = d.get("recorded")
    if rec:
        p.add(f"<h3>{_e(p.label('recorded'))}</h3>")
        p.table([p.label("category"), "", p.label("count")], [(p.label(k), k, rec.get(k, 0)) for k in ("compared", "matched", "differs", "absent")], numeric=[2])
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
        rows.append((Raw(f"{_e(p.label(kind))}<br><code>{_e(kind)}</code>"), p.label(str(item.get("tool", ""))), item.get("files"), item.get("tweets"), Raw(cmds)))
    p.table([p.label("kind"), p.label("tool"), p.label("files"), p.label("tweets"), p.label("commands")], rows, numeric=[2, 3])


def _accounts(p: Page, accounts: list[dict[str, Any]]) -> None:
    p.h2("accounts")
    keys = ("tweets", "urls", "missing", "wrong_path", "malformed", "unverified", "unbacked", "partial", "empty_media", "deep_problems")
    shown = accounts[:MAX_ACCOUNT_ROWS]
    p.table([p.label("account"), *(p.label(k) for k in keys)], [(a.get("username") or "—", *(a.get(k, 0) for k in keys)) for a in shown], numeric=range(1, len(keys) + 1))
    if len(accounts) > len(shown):
        p.note(p.label("shown_first", n=len(shown), total=len(accounts)))


def _problems(p: Page, r: dict[str, Any]) -> None:
    """Verify's problem URLs, then read-back problems, then other row problems; capped."""
    verify = r.get("verify", {})
    items = [(f.get("category"), f.get("tweet_id"), f.get("username"), f.get("url"), f.get("detail")) for f in verify.get("problems", [])]
    deep = r.get("deep") or {}
    items += [(f.get("category"), f.get("tweet_id"), f.get("username"), f.get("path"), f.get("detail")) for f in deep.get("problems", [])]
    items += [(f.get("category"), "", "", f"{f.get('repo_id')}/{f.get('path')}", f.get("detail")) for f in (deep.get("recorded") or {}).get("problems", [])]
    p.h2("problem_list")
    if not items:
        p.note(p.label("none"))
    else:
        shown = items[:MAX_PROBLEM_ROWS]
        p.table([p.label("category"), p.label("tweet"), p.label("account"), p.label("where"), p.label("detail")], shown, wrap=[3, 4])
        if len(items) > len(shown):
            p.note(p.label("shown_first", n=len(shown), total=len(items)))
    rows = verify.get("row_problems", [])
    if rows:
        p.add(f"<h3>{_e(p.label('row_problems'))}</h3>")
        p.table([p.label("tweet"), p.label("column"), "code", p.label("detail")], [(x.get("tweet_id"), x.get("column"), x.get("code"), x.get("detail")) for x in rows[:MAX_ROW_PROBLEMS]], wrap=[3])
        if len(rows) > MAX_ROW_PROBLEMS:
            p.note(p.label("shown_first", n=MAX_ROW_PROBLEMS, total=len(rows)))


__all__ = ["render_audit_html"]
