"""The words of the summaries, in English and Japanese (the users' own summaries were Japanese).

Keys are the category words used in code, progress file and report, so the three never drift.
"""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "verify_title": {"en": "Backup URL check", "ja": "バックアップURLチェック結果"},
    "total": {"en": "Total checked", "ja": "総チェック数"},
    "present": {"en": "Present", "ja": "存在"},
    "missing_all": {"en": "Missing", "ja": "欠落"},
    "wrong_path": {"en": "  of which wrong path", "ja": "  うち誤ったパス"},
    "repo_not_found": {"en": "Repo or revision not found", "ja": "リポジトリ／リビジョンなし"},
    "no_access": {"en": "No access", "ja": "アクセス不可"},
    "malformed": {"en": "Malformed", "ja": "不正なURL"},
    "unverified": {"en": "Unverified (retry later)", "ja": "未確認（後で再実行）"},
    "row_problems": {"en": "Rows with other problems", "ja": "その他の問題がある行"},
    "incomplete": {"en": "Stopped before the end: run again with --resume to continue.", "ja": "途中で停止しました。--resume で続行できます。"},
    "gaps_title": {"en": "Tweets with media but no complete backup", "ja": "バックアップされていないメディア"},
    "unbacked": {"en": "Tweets with media and no backup", "ja": "メディアがあるがバックアップのないツイート"},
    "partial": {"en": "Tweets with fewer backups than media", "ja": "バックアップが一部のみのツイート"},
    "unbacked_media": {"en": "Media files without backup", "ja": "バックアップのないメディアファイル"},
    "empty_media": {"en": "Tweets with backups but an empty media list", "ja": "バックアップURLはあるがメディアリストが空のツイート"},
    "per_account": {"en": "By account (top 20)", "ja": "アカウント別（上位20）"},
    "report_at": {"en": "Report", "ja": "レポート"},
    "repo_problem": {"en": "Repo problem", "ja": "リポジトリの問題"},
    "urls": {"en": "URLs", "ja": "件のURL"},
    "restore_title": {"en": "== Restore ==", "ja": "== 復元結果 =="},
    "restore_tweets": {"en": "Tweets", "ja": "対象ツイート"},
    "restore_restored": {"en": "Restored", "ja": "復元"},
    "restore_exists": {"en": "Already in the output folder", "ja": "出力先に既存"},
    "restore_failed": {"en": "Failed", "ja": "失敗"},
    "restore_incomplete": {"en": "Could not check (retry later)", "ja": "未完了（後で再実行）"},
    "audit_plan": {"en": "What to run", "ja": "実行すべきコマンド"},
    "audit_html": {"en": "Report (open in a browser)", "ja": "レポート（ブラウザで開く）"},
}


def t(key: str, lang: str) -> str:
    """The message `key` in `lang` (English when a translation is missing)."""
    entry = MESSAGES[key]
    return entry.get(lang) or entry["en"]
