"""The words of the summaries and of the audit page, in English and Japanese (the users' own
summaries were Japanese).

Keys are the category words used in code, progress file and report, so the three never drift.
The audit page's own words start with `pg_` (its tables' older words are in report.html.LABELS).
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
    "audit_coverage": {"en": "Read back and decrypted within the last {n} audits: {share} ({covered:,} of {total:,} files)", "ja": "直近 {n} 回の監査で読み戻し・復号できたファイル：{share}（{total:,} 件中 {covered:,} 件）"},
    # the audit page (hfcheck.report.html): headline, gauge, history, account chart, problem list
    "pg_ok": {"en": "Safe", "ja": "安全"},
    "pg_problems": {"en": "Problems found", "ja": "問題があります"},
    "pg_incomplete": {"en": "Could not check", "ja": "確認できませんでした"},
    "pg_counts": {"en": "{problems} problems, {gaps} media files without backup, {unknown} unverified", "ja": "問題 {problems} 件、バックアップのないメディア {gaps} 件、未確認 {unknown} 件"},
    "pg_last_complete": {"en": "Last complete check: {at}", "ja": "最後の完全なチェック：{at}"},
    "pg_never_complete": {"en": "No complete check yet", "ja": "完全なチェックはまだありません"},
    "pg_safe_since": {"en": "No problem found since {at}", "ja": "{at} 以降、問題は見つかっていません"},
    "pg_coverage": {"en": "Read-back coverage", "ja": "読み戻しカバー率"},
    "pg_coverage_what": {"en": "of the backed-up files were read back and decrypted within the last {n} audits", "ja": "のファイルを直近 {n} 回の監査で読み戻し・復号しました"},
    "pg_coverage_files": {"en": "{covered} of {total} files", "ja": "{total} 件中 {covered} 件"},
    "pg_coverage_none": {"en": "No file read back yet", "ja": "まだ読み戻したファイルはありません"},
    "pg_history": {"en": "History", "ja": "履歴"},
    "pg_history_note": {"en": "The last {n} audits, oldest left. A red dot marks an audit that found a new problem.", "ja": "直近 {n} 回の監査（左が古い）。赤い点は新しい問題を見つけた監査です。"},
    "pg_h_problems": {"en": "Problems", "ja": "問題"},
    "pg_h_gaps": {"en": "Media files without backup", "ja": "バックアップのないメディア"},
    "pg_h_backed_up": {"en": "Backed-up files", "ja": "バックアップ済みファイル"},
    "pg_h_max": {"en": "max {n}", "ja": "最大 {n}"},
    "pg_h_new": {"en": "{n} new", "ja": "新規 {n} 件"},
    "pg_accounts_chart": {"en": "Accounts (top {n})", "ja": "アカウント別（上位 {n}）"},
    "pg_backed_up": {"en": "Backed up", "ja": "バックアップ済み"},
    "pg_missing": {"en": "Missing", "ja": "欠落"},
    "pg_wrong_path": {"en": "Wrong path", "ja": "誤ったパス"},
    "pg_unbacked_media": {"en": "Not backed up", "ja": "未バックアップ"},
    "pg_others": {"en": "Other {n} accounts", "ja": "その他 {n} アカウント"},
    "pg_filter": {"en": "Filter", "ja": "絞り込み"},
    "pg_all_kinds": {"en": "All kinds", "ja": "すべての種類"},
    "pg_sort_hint": {"en": "Click a column title to sort.", "ja": "列名をクリックすると並べ替えます。"},
    "pg_fix": {"en": "Command that fixes it", "ja": "修復コマンド"},
    "pg_copy": {"en": "Copy", "ja": "コピー"},
    "pg_copied": {"en": "Copied", "ja": "コピーしました"},
    "pg_no_fix": {"en": "Look at the row in the database", "ja": "データベースの行を確認してください"},
    "pg_rows": {"en": "{a}–{b} of {n}", "ja": "{n} 件中 {a}–{b} 件"},
    "pg_prev": {"en": "Previous", "ja": "前へ"},
    "pg_next": {"en": "Next", "ja": "次へ"},
    "pg_details": {"en": "Details", "ja": "詳細"},
    "deep_missing": {"en": "Backup gone when read back", "ja": "読み戻し時にバックアップなし"},
    "recorded_missing": {"en": "Recorded upload not in the listing", "ja": "記録済みアップロードが一覧にない"},
}


def t(key: str, lang: str) -> str:
    """The message `key` in `lang` (English when a translation is missing)."""
    entry = MESSAGES[key]
    return entry.get(lang) or entry["en"]
