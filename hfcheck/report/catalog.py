"""The words users read, in English and Japanese (the users' own scripts printed Japanese).

Keys are the category words used in code, progress file and report, so the three never drift.
Lines with values are `str.format` templates; a reason that is shown later (a repair's error
per tweet) is kept as a `Msg` (key and values) and rendered in the run's language.
A test holds every key to both languages and to a use in the code.
The audit page's words start with `page_` (sections and tables) and `pg_` (headline, charts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MESSAGES: dict[str, dict[str, str]] = {
    "verify_title": {"en": "Backup URL check", "ja": "バックアップURLチェック結果"},
    "total": {"en": "Total checked", "ja": "総チェック数"},
    "present": {"en": "Present", "ja": "存在"},
    "missing_all": {"en": "Missing", "ja": "欠落"},
    "wrong_path": {"en": "  of which wrong path", "ja": "  うち誤ったパス"},
    "repo_not_found": {"en": "Repo not found", "ja": "リポジトリなし"},
    "revision_not_found": {"en": "Revision not found (nothing checked)", "ja": "リビジョンなし（未チェック）"},
    "no_access": {"en": "No access", "ja": "アクセス不可"},
    "malformed": {"en": "Malformed", "ja": "不正なURL"},
    "unverified": {"en": "Unverified (retry later)", "ja": "未確認（後で再実行）"},
    "row_problems": {"en": "Rows with other problems", "ja": "その他の問題がある行"},
    "incomplete": {
        "en": "Stopped before the end: run again with --resume to continue.",
        "ja": "途中で停止しました。--resume で続行できます。",
    },
    "gaps_title": {"en": "Tweets with media but no complete backup", "ja": "バックアップされていないメディア"},
    "unbacked": {"en": "Tweets with media and no backup", "ja": "メディアがあるがバックアップのないツイート"},
    "partial": {"en": "Tweets with fewer backups than media", "ja": "バックアップが一部のみのツイート"},
    "unbacked_media": {"en": "Media files without backup", "ja": "バックアップのないメディアファイル"},
    "empty_media": {
        "en": "Tweets with backups but an empty media list",
        "ja": "バックアップURLはあるがメディアリストが空のツイート",
    },
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
    "audit_coverage_unknown": {
        "en": "Read back and decrypted: unknown (the repo could not be read in this audit)",
        "ja": "読み戻し・復号できたファイル：不明（この監査ではリポジトリを読めませんでした）",
    },
    "audit_html": {"en": "Report (open in a browser)", "ja": "レポート（ブラウザで開く）"},
    "audit_coverage": {
        "en": "Read back and decrypted within the last {n} audits: {share} ({covered:,} of {total:,} files)",
        "ja": "直近 {n} 回の監査で読み戻し・復号できたファイル：{share}（{total:,} 件中 {covered:,} 件）",
    },
    # `hfcheck watch`: its lines, and the webhook messages (hfcheck.watch.service)
    "watch_started": {
        "en": "hfcheck watch started: {repos}, polling every {interval}, audit every {audit}",
        "ja": "hfcheck watch を開始しました：{repos}、{interval} ごとに確認、監査は {audit} ごと",
    },
    "watch_stopped": {
        "en": "hfcheck watch stopped: {ok} tweets backed up, {failed} failed, {commits} commits",
        "ja": "hfcheck watch を停止しました：バックアップ {ok} 件、失敗 {failed} 件、コミット {commits} 回",
    },
    "watch_poll": {
        "en": "poll {n}: {tweets} to back up",
        "ja": "確認 {n} 回目：バックアップ対象 {tweets}",
    },
    "watch_paused": {
        "en": "backups paused ({error}); trying again in {seconds}",
        "ja": "バックアップを一時停止しました（{error}）。{seconds} 後に再試行します",
    },
    "watch_abandoned": {
        "en": (
            "the commit in flight did not finish within {seconds}: left to the next start"
            " (its files are recorded then, not uploaded again)"
        ),
        "ja": (
            "実行中のコミットが {seconds} 以内に終わりませんでした。"
            "次回の起動時に記録します（再アップロードはしません）"
        ),
    },
    "watch_failing": {
        "en": "hfcheck watch: no tweet could be backed up for {minutes} min, {waiting} waiting; last error: {reason}",
        "ja": "hfcheck watch：{minutes} 分間バックアップできていません（待機中 {waiting} 件）。最後のエラー：{reason}",
    },
    "watch_recovered": {
        "en": "hfcheck watch: backups work again ({ok} tweets backed up since start)",
        "ja": "hfcheck watch：バックアップが再開しました（起動後 {ok} 件）",
    },
    "watch_audit_done": {
        "en": "audit: {status}, {problems}; report {report}",
        "ja": "監査：{status}、{problems}。レポート {report}",
    },
    "watch_audit_failed": {
        "en": "the scheduled audit could not run ({error}); next try in {seconds}",
        "ja": "定期監査を実行できませんでした（{error}）。{seconds} 後に再試行します",
    },
    "watch_audit_problems": {
        "en": "hfcheck audit found {problems}: {counts}. Report: {report}",
        "ja": "hfcheck の監査で{problems}が見つかりました：{counts}。レポート：{report}",
    },
    "watch_audit_fix": {"en": "to fix: {command}", "ja": "修復コマンド：{command}"},
    "deep_summary": {
        "en": "Read-back sample {s}: {n}, {ok} ok, {bad}, {unk} unverified; "
        "recorded uploads: {rc} compared, {rd} differ",
        "ja": "読み戻し検査 {s}：{n}、正常 {ok}、{bad}、未確認 {unk}／記録済みアップロード：比較 {rc}、不一致 {rd}",
    },
    # the audit page (hfcheck.report.html): titles, sections, table heads (looked up as "page_" + key)
    "page_title": {"en": "hfcheck audit report", "ja": "hfcheck 監査レポート"},
    "page_generated": {"en": "Generated", "ja": "作成日時"},
    "page_status": {"en": "Result", "ja": "結果"},
    "page_ok": {"en": "All checked backups are complete", "ja": "確認したバックアップはすべて完全です"},
    "page_problems": {"en": "Problems found", "ja": "問題があります"},
    "page_incomplete": {
        "en": "Could not check everything (run again)",
        "ja": "すべてを確認できませんでした（再実行してください）",
    },
    "page_read_only": {
        "en": "Read-only: nothing was changed on the Hub, in the database or in the local media.",
        "ja": "読み取り専用：Hub・データベース・ローカルメディアは一切変更していません。",
    },
    "page_archive": {"en": "Archive", "ja": "アーカイブ"},
    "page_counts": {"en": "Recorded backup URLs by category", "ja": "カテゴリ別のバックアップURL"},
    "page_category": {"en": "Category", "ja": "カテゴリ"},
    "page_count": {"en": "Count", "ja": "件数"},
    "page_gaps": {"en": "Media without a complete backup", "ja": "バックアップされていないメディア"},
    "page_deep": {
        "en": "Read-back check (download, decrypt, compare)",
        "ja": "読み戻し検査（ダウンロード・復号・比較）",
    },
    "page_sample": {"en": "Sample", "ja": "サンプル"},
    "page_candidates": {"en": "Present files considered", "ja": "対象ファイル数"},
    "page_checked": {"en": "Files read back", "ja": "読み戻したファイル数"},
    "page_recorded": {
        "en": "Recorded uploads vs repo listing (no download)",
        "ja": "記録済みアップロードとリポジトリ一覧の比較（ダウンロードなし）",
    },
    "page_plan": {"en": "What to run", "ja": "実行すべきコマンド"},
    "page_kind": {"en": "Kind", "ja": "種類"},
    "page_tool": {"en": "Command", "ja": "コマンド"},
    "page_files": {"en": "Files", "ja": "ファイル"},
    "page_tweets": {"en": "Tweets", "ja": "ツイート"},
    "page_commands": {"en": "Exact commands", "ja": "コマンド"},
    "page_nothing_to_do": {"en": "Nothing to repair.", "ja": "修復の必要はありません。"},
    "page_accounts": {"en": "By account", "ja": "アカウント別"},
    "page_account": {"en": "Account", "ja": "アカウント"},
    "page_urls": {"en": "Backup URLs", "ja": "バックアップURL"},
    "page_problem_list": {"en": "Problems", "ja": "問題一覧"},
    "page_tweet": {"en": "Tweet", "ja": "ツイート"},
    "page_where": {"en": "URL / path", "ja": "URL／パス"},
    "page_detail": {"en": "Detail", "ja": "詳細"},
    "page_repo_problems": {"en": "Repo problems", "ja": "リポジトリの問題"},
    "page_column": {"en": "Column", "ja": "列"},
    "page_shown_first": {
        "en": "Showing the first {n} of {total}; all are in audit_report.json.",
        "ja": "{total} 件中 最初の {n} 件を表示（全件は audit_report.json）。",
    },
    "page_more_tweets": {
        "en": "… and {n} more tweets (see audit_report.json)",
        "ja": "… ほか {n} ツイート（audit_report.json を参照）",
    },
    "page_none": {"en": "None.", "ja": "なし。"},
    # the page's words for categories (the same words as in code and JSON)
    "page_missing": {"en": "Missing", "ja": "欠落"},
    "page_wrong_path": {"en": "Wrong path", "ja": "誤ったパス"},
    "page_deleted_on_x": {
        "en": "Lost media lists of tweets deleted on X: nothing left to recover",
        "ja": "X で削除済みのツイートのメディアリスト（復元不可）",
    },
    "page_deep_ok": {"en": "Decrypts to the local file", "ja": "復号結果がローカルと一致"},
    "page_differs": {"en": "Differs", "ja": "不一致"},
    "page_decrypt_failed": {"en": "Decryption failed", "ja": "復号失敗"},
    "page_local_missing": {"en": "No local file to compare", "ja": "比較するローカルファイルなし"},
    "page_compared": {"en": "Compared", "ja": "比較数"},
    "page_matched": {"en": "Matched", "ja": "一致"},
    "page_absent": {"en": "Recorded but not listed", "ja": "記録あり・一覧になし"},
    "page_deep_problems": {"en": "Read-back problems", "ja": "読み戻しの問題"},
    "page_deep_local_missing": {
        "en": "Local file lost (backup is good)",
        "ja": "ローカルファイル消失（バックアップは正常）",
    },
    "page_deep_differs": {"en": "Backup differs from local", "ja": "バックアップとローカルが不一致"},
    "page_deep_decrypt_failed": {"en": "Backup does not decrypt", "ja": "バックアップを復号できない"},
    "page_recorded_differs": {"en": "Hub file differs from the recorded upload", "ja": "Hub上のファイルが記録と異なる"},
    "page_repair": {"en": "repair", "ja": "repair（修復）"},
    "page_backup": {"en": "backup", "ja": "backup（バックアップ）"},
    "page_restore": {"en": "restore", "ja": "restore（復元）"},
    "page_audit": {"en": "audit", "ja": "audit（再監査）"},
    "page_verify": {"en": "verify", "ja": "verify（検証）"},
    # the audit page (hfcheck.report.html): headline, gauge, history, account chart, problem list
    "pg_ok": {"en": "Safe", "ja": "安全"},
    "pg_problems": {"en": "Problems found", "ja": "問題があります"},
    "pg_incomplete": {"en": "Could not check", "ja": "確認できませんでした"},
    "pg_counts": {
        "en": "{problems} problems, {gaps} media files without backup, {unknown} unverified",
        "ja": "問題 {problems} 件、バックアップのないメディア {gaps} 件、未確認 {unknown} 件",
    },
    "pg_last_complete": {"en": "Last complete check: {at}", "ja": "最後の完全なチェック：{at}"},
    "pg_never_complete": {"en": "No complete check yet", "ja": "完全なチェックはまだありません"},
    "pg_safe_since": {"en": "No problem found since {at}", "ja": "{at} 以降、問題は見つかっていません"},
    "pg_coverage": {"en": "Read-back coverage", "ja": "読み戻しカバー率"},
    "pg_coverage_what": {
        "en": "of the backed-up files were read back and decrypted within the last {n} audits",
        "ja": "のファイルを直近 {n} 回の監査で読み戻し・復号しました",
    },
    "pg_coverage_files": {"en": "{covered} of {total} files", "ja": "{total} 件中 {covered} 件"},
    "pg_coverage_unknown": {
        "en": "Unknown: the repo could not be read in this audit",
        "ja": "不明：この監査ではリポジトリを読めませんでした",
    },
    "pg_coverage_none": {"en": "No file read back yet", "ja": "まだ読み戻したファイルはありません"},
    "pg_history": {"en": "History", "ja": "履歴"},
    "pg_history_note": {
        "en": "The last {n} audits, oldest left. A red dot marks an audit that found a new problem.",
        "ja": "直近 {n} 回の監査（左が古い）。赤い点は新しい問題を見つけた監査です。",
    },
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
    "unknown_format": {"en": "Format no configured scheme knows", "ja": "設定したどの方式でも読めない形式"},
    "deep_unknown_format": {
        "en": "Backup in an unknown format (left untouched)",
        "ja": "不明な形式のバックアップ（変更しません）",
    },
    "pg_unknown_format_fix": {
        "en": (
            "No command: set crypto.scheme to the scheme that wrote it, or look at the file; repair never overwrites it"
        ),
        "ja": (
            "コマンドなし：書き込んだ方式を crypto.scheme に設定するか、ファイルを確認してください。"
            "repair は上書きしません"
        ),
    },
    "deep_missing": {"en": "Backup gone when read back", "ja": "読み戻し時にバックアップなし"},
    "recorded_missing": {"en": "Recorded upload not in the listing", "ja": "記録済みアップロードが一覧にない"},
    "gaps_total": {
        "en": "Total: {n:,} tweets not (fully) backed up",
        "ja": "合計 {n:,} 件のツイートがバックアップされていません",
    },
    # -- repair and backup: the summary -------------------------------------------------------
    "run_title_repair": {"en": "Repair", "ja": "修復結果"},
    "run_title_repair_dry": {
        "en": "Repair plan (dry run: nothing was changed)",
        "ja": "修復計画（ドライラン：何も変更していません）",
    },
    "run_title_migrate": {"en": "Migrate", "ja": "移行結果"},
    "run_title_migrate_dry": {
        "en": "Migration plan (dry run: nothing was changed)",
        "ja": "移行計画（ドライラン：何も変更していません）",
    },
    "migrate_already": {"en": "Backups already in {scheme}: {n:,}", "ja": "すでに {scheme} のバックアップ：{n:,} 件"},
    # -- Storage Buckets (issue 19): migrate --to hf://buckets/NS/NAME --
    "move_plan_line": {"en": "would move {old} -> {new}", "ja": "移動予定：{old} → {new}"},
    "move_not_in_repo": {
        "en": "{url}: not in its repo, not moved (run verify and repair first)",
        "ja": "{url}：リポジトリにないため移動しません（先に verify と repair を実行してください）",
    },
    "migrate_recorded": {
        "en": "URLs now pointing to a read-back {scheme} file: {n:,}",
        "ja": "読み戻し済みの {scheme} ファイルを指すようになったURL：{n:,} 件",
    },
    "migrate_deletable": {
        "en": "Old files replaced, read back and recorded (deleted with --delete-old): {n:,}",
        "ja": "置き換え・読み戻し・記録済みの旧ファイル（--delete-old で削除）：{n:,} 件",
    },
    "migrate_deleted": {
        "en": "Old files deleted: {n:,} in {commits:,} commit(s)",
        "ja": "削除した旧ファイル：{n:,} 件（コミット {commits:,} 回）",
    },
    "run_title_backup": {"en": "Backup", "ja": "バックアップ結果"},
    "run_title_backup_dry": {
        "en": "Backup plan (dry run: nothing was changed)",
        "ja": "バックアップ計画（ドライラン：何も変更していません）",
    },
    "run_tweets": {"en": "Tweets", "ja": "対象ツイート"},
    "run_completed": {"en": "  completed", "ja": "  完了"},
    "run_error": {"en": "  error", "ja": "  エラー"},
    "run_files_succeeded": {"en": "Files succeeded", "ja": "成功ファイル"},
    "run_files_failed": {"en": "Files failed", "ja": "失敗ファイル"},
    "run_downloaded": {"en": "Downloaded", "ja": "ダウンロード"},
    "run_gone": {"en": "Gone at the source", "ja": "取得元で消失"},
    "run_commits": {"en": "Commits", "ja": "コミット数"},
    "run_bytes": {"en": "Bytes uploaded", "ja": "アップロード量（バイト）"},
    "run_done": {"en": "Done: {ok:,} succeeded, {failed:,} failed", "ja": "完了: 成功 {ok:,}件, 失敗 {failed:,}件"},
    "run_error_line": {"en": "error: {reason}", "ja": "エラー: {reason}"},
    "run_verify_first": {
        "en": "no verify progress file: running verify first",
        "ja": "検証の進捗ファイルがありません：先に verify を実行します",
    },
    # -- repair and backup: per tweet (English: one line; Japanese: the old script's block) --------
    "tweet_line": {
        "en": "[{i}/{n}] {tweet_id} {kinds}: {files}",
        "ja": "[{i}/{n}] 処理中: ツイートID {tweet_id} ({kinds})",
    },
    "tweet_ok": {"en": "{line} -> ok ({uploaded} uploaded, {present} already in repo)", "ja": "{line}"},
    "tweet_fail": {"en": "{line} -> error: {reason}", "ja": "{line}"},
    "tweet_files_repair": {"en": "    files to repair: {n}", "ja": "  欠落ファイル数: {n}"},
    "tweet_files_backup": {"en": "    files to back up: {n}", "ja": "  未バックアップのファイル数: {n}"},
    "tweet_targets_repair": {
        "en": "    to process: images {images}, videos {videos}",
        "ja": "  再処理対象: 画像 {images}件, 動画 {videos}件",
    },
    "tweet_targets_backup": {
        "en": "    to process: images {images}, videos {videos}",
        "ja": "  処理対象: 画像 {images}件, 動画 {videos}件",
    },
    "tweet_files_migrate": {"en": "    files to migrate: {n}", "ja": "  移行するファイル数: {n}"},
    "tweet_targets_migrate": {
        "en": "    to process: images {images}, videos {videos}",
        "ja": "  処理対象: 画像 {images}件, 動画 {videos}件",
    },
    "tweet_uploaded_migrate": {
        "en": "    re-encrypted and read back: {path}",
        "ja": "  再暗号化・読み戻し成功: {path}",
    },
    "tweet_uploaded_repair": {"en": "    re-uploaded: {path}", "ja": "  再アップロード成功: {path}"},
    "tweet_uploaded_backup": {"en": "    uploaded: {path}", "ja": "  アップロード成功: {path}"},
    "tweet_present": {"en": "    already in the repo: {path}", "ja": "  リポジトリに既存: {path}"},
    "tweet_error": {"en": "    error: {reason}", "ja": "  エラー: {reason}"},
    "tweet_result": {"en": "    done: {ok} succeeded, {failed} failed", "ja": "  完了: 成功 {ok}件, 失敗 {failed}件"},
    # -- the dry run's plan per file ----------------------------------------------------------------
    "dry_upload": {
        "en": "    {kind}: upload {local} -> {repo}:{path}",
        "ja": "    {kind}: アップロード予定 {local} -> {repo}:{path}",
    },
    "dry_reupload": {
        "en": "    {kind}: re-upload (the backup there does not decrypt) {local} -> {repo}:{path}",
        "ja": "    {kind}: 再アップロード予定（既存のバックアップは復号できません） {local} -> {repo}:{path}",
    },
    "dry_present": {"en": "    {kind}: already in repo", "ja": "    {kind}: リポジトリに既存"},
    "dry_replace_url": {
        "en": "    replace URL {old}\n         with {new}",
        "ja": "    URLを置換 {old}\n         → {new}",
    },
    "dry_recover": {
        "en": "    empty_media: fetch the media list with twscrape, download, upload, record media_urls",
        "ja": "    empty_media: twscrape でメディアリストを取得し、ダウンロード・アップロードして media_urls を記録",
    },
    "dry_error": {"en": "    error: {reason}", "ja": "    エラー: {reason}"},
    # -- repair: where a lost file was found again (issue 20: every copy that still exists) --------
    "from_search_root": {"en": "from search root {root}", "ja": "検索フォルダ {root} から"},
    "from_history": {"en": "from history @ {commit}", "ja": "リポジトリの履歴 @ {commit} から"},
    "from_media_url": {"en": "from its media URL", "ja": "メディアURLから"},
    "dry_origin": {"en": "      {local}: {origin}", "ja": "      {local}: {origin}"},
    "tweet_origin": {"en": "    {local}: {origin}", "ja": "  {local}: {origin}"},
    "err_bad_local": {"en": "{local}: {error}", "ja": "{local}: {error}"},
    "err_history_unavailable": {
        "en": "local file not found, and the history of {repo} cannot be read: {error}",
        "ja": "ローカルファイルがなく、{repo} の履歴も読めません: {error}",
    },
    "err_history_copy": {
        "en": "local file not found; the copy of {path} in history @ {commit} does not decrypt: {error}",
        "ja": "ローカルファイルがありません。履歴 @ {commit} の {path} は復号できません: {error}",
    },
    # -- why a tweet or file could not be written (kept as `Msg`, rendered per language) ------------
    "err_not_in_db": {"en": "tweet no longer in the database", "ja": "ツイートがデータベースにありません"},
    "err_bad_url": {"en": "{url}: {error}", "ja": "{url}: {error}"},
    "err_unreadable_unrecorded": {
        "en": "{repo}:{path}: unreadable, but no longer recorded for this tweet",
        "ja": "{repo}:{path}: 復号できませんが、このツイートにはもう記録されていません",
    },
    "err_unreadable_name": {
        "en": "{repo}:{path}: the backup does not decrypt and neither does its name ({error}); re-upload it by hand",
        "ja": "{repo}:{path}: バックアップもファイル名も復号できません（{error}）。手動で再アップロードしてください",
    },
    "err_no_local_for_name": {
        "en": "{url}: name does not decrypt with this key and no local file {user}/{tweet_id}_{index}.* was found",
        "ja": "{url}: この鍵では名前を復号できず、ローカルファイル {user}/{tweet_id}_{index}.* も見つかりません",
    },
    "err_unsafe_username": {
        "en": "unsafe username: cannot build local paths",
        "ja": "安全でないユーザー名：ローカルパスを作れません",
    },
    "err_bad_medium": {"en": "medium {index} ({url}): {error}", "ja": "メディア {index} ({url}): {error}"},
    "err_local_no_url": {
        "en": "local file not found: {local} (no media URL to fetch it from)",
        "ja": "ローカルファイルがありません: {local}（取得元のメディアURLなし）",
    },
    "err_local_gone": {
        "en": "local file not found: {local}; gone at the source: {url} ({reason})",
        "ja": "ローカルファイルがありません: {local}。取得元で消失: {url} ({reason})",
    },
    "err_local_fetch": {
        "en": "local file not found: {local}; fetching {url}: {status} {reason}",
        "ja": "ローカルファイルがありません: {local}。{url} の取得: {status} {reason}",
    },
    "err_local_refused": {
        "en": "local file not found: {local}; {url} will not be fetched: {host} is not an allowed media host"
        " (download.allowed_hosts)",
        "ja": "ローカルファイルがありません: {local}。{url} は取得しません："
        "{host} は許可されたメディアホストではありません（download.allowed_hosts）",
    },
    "err_migrate_name": {
        "en": "{url}: cannot tell its local file ({error}); left as it is",
        "ja": "{url}: ローカルファイルを特定できません（{error}）。そのままにします",
    },
    "err_migrate_read": {
        "en": "no local file, and the old backup {url} cannot be read back ({reason}); left as it is",
        "ja": "ローカルファイルがなく、旧バックアップ {url} も読み戻せません（{reason}）。そのままにします",
    },
    "err_migrate_readback": {
        "en": "{path}: the new file did not read back ({reason}); the URL still points to the old one",
        "ja": "{path}: 新しいファイルを読み戻せません（{reason}）。URL は旧ファイルのままです",
    },
    "err_x_known": {
        "en": "tweet {status} on X (known since {since}): {reason}",
        "ja": "X でツイートが{status}（{since} から判明）：「{reason}」",
    },
    "err_x_status": {"en": "tweet {status} on X: {reason}", "ja": "X でツイートが{status}：「{reason}」"},
    "err_no_twscrape": {
        "en": "media list is empty and twscrape is not configured (twitter.accounts_db)",
        "ja": "メディアリストが空で、twscrape が設定されていません（twitter.accounts_db）",
    },
    # the emulator as an optional extra (hfcheck.cli.require_emulator)
    "need_emulator_extra": {
        "en": "hfcheck {command} needs the Hub emulator, an optional part: pip install 'hfcheck[emulator]'",
        "ja": "hfcheck {command} には Hub エミュレーター（オプション）が必要です：pip install 'hfcheck[emulator]'",
    },
    "err_x_no_media": {
        "en": "X lists no downloadable media for this tweet {reason}",
        "ja": "X にダウンロードできるメディアがありません {reason}",
    },
    # -- the key check (issue 18): does the configured key open this archive (readback/keycheck.py) ---
    "key_wrong_names": {
        "en": "0 of {tried} recorded names decrypt with the key in {key_file}: is it this archive's key?",
        "ja": "記録済みの名前 {tried} 件のうち、{key_file} の鍵で復号できたのは 0 件です。このアーカイブの鍵ですか？",
    },
    "key_wrong_names_record": {
        "en": "0 of {tried} recorded names, and not the key-check record in {repo}, decrypt with the key in {key_file}:"
        " is it this archive's key?",
        "ja": "記録済みの名前 {tried} 件も {repo} の鍵確認レコードも、{key_file} の鍵では復号できません。"
        "このアーカイブの鍵ですか？",
    },
    "key_wrong_record": {
        "en": "the key-check record {repo}:{path} does not decrypt with the key in {key_file}:"
        " is it this archive's key?",
        "ja": "鍵確認レコード {repo}:{path} を {key_file} の鍵で復号できません。このアーカイブの鍵ですか？",
    },
    "key_wrong_files": {
        "en": "0 of {tried} recorded backups decrypt with the key in {key_file}: is it this archive's key?",
        "ja": "記録済みのバックアップ {tried} 件のうち、{key_file} の鍵で復号できたのは 0 件です。"
        "このアーカイブの鍵ですか？",
    },
    "key_unchecked": {
        "en": "could not check the key in {key_file}: the key-check record ({path}) could not be read ({reason});"
        " nothing was written, run again later",
        "ja": "{key_file} の鍵を確認できません。鍵確認レコード（{path}）を読めませんでした（{reason}）。"
        "何も書き込んでいません。後で再実行してください",
    },
    "key_record_written": {
        "en": "key-check record written: {repo}:{path} (later runs prove the key with it)",
        "ja": "鍵確認レコードを書き込みました：{repo}:{path}（以後の実行はこれで鍵を確認します）",
    },
    "key_record_failed": {
        "en": "the key-check record could not be written to {repo} ({reason}); the next run tries again",
        "ja": "鍵確認レコードを {repo} に書き込めませんでした（{reason}）。次回の実行で再試行します",
    },
    # -- words for the run's own identifiers and counts, so that no English is left in Japanese lines
    # (doctor: kinds, categories, statuses, plurals; `count` picks the singular or plural)
    "count_file_one": {"en": "{n:,} file", "ja": "{n:,} ファイル"},
    "count_file_other": {"en": "{n:,} files", "ja": "{n:,} ファイル"},
    "count_tweet_one": {"en": "{n:,} tweet", "ja": "{n:,} ツイート"},
    "count_tweet_other": {"en": "{n:,} tweets", "ja": "{n:,} ツイート"},
    "count_problem_one": {"en": "{n:,} problem", "ja": "問題 {n:,} 件"},
    "count_problem_other": {"en": "{n:,} problems", "ja": "問題 {n:,} 件"},
    "sample_all": {"en": "all", "ja": "全件"},
    "kind_missing": {"en": "missing", "ja": "欠落"},
    "kind_wrong_path": {"en": "wrong_path", "ja": "誤ったパス"},
    "kind_empty_media": {"en": "empty_media", "ja": "メディアリストが空"},
    "kind_unreadable": {"en": "unreadable", "ja": "復号できない"},
    "kind_unbacked": {"en": "unbacked", "ja": "未バックアップ"},
    "kind_partial": {"en": "partial", "ja": "一部のみバックアップ"},
    "kind_migrate": {"en": "migrate", "ja": "移行"},
    "kind_deleted_on_x": {"en": "deleted_on_x", "ja": "X で削除済み"},
    "kind_deep_decrypt_failed": {"en": "deep_decrypt_failed", "ja": "バックアップを復号できない"},
    "kind_deep_unknown_format": {"en": "deep_unknown_format", "ja": "不明な形式のバックアップ"},
    "kind_deep_local_missing": {"en": "deep_local_missing", "ja": "ローカルファイル消失"},
    "kind_deep_differs": {"en": "deep_differs", "ja": "バックアップとローカルが不一致"},
    "kind_recorded_differs": {"en": "recorded_differs", "ja": "Hub上のファイルが記録と異なる"},
    "kind_unverified": {"en": "unverified", "ja": "未確認"},
    "plan_item": {"en": "- {kind}: {counts}", "ja": "- {kind}：{counts}"},
    "list_sep": {"en": ", ", "ja": "、"},
    "plan_deleted_on_x": {
        "en": "    nothing to run: X says these tweets are deleted",
        "ja": "    実行するものはありません：X ではこれらのツイートは削除済みです",
    },
    "restore_failed_line": {
        "en": "FAILED tweet {tweet_id} [{index}] {where}: {category}: {detail}",
        "ja": "失敗：ツイート {tweet_id} [{index}] {where}：{category}（詳細は restore_report.json）",
    },
    "why_wrong_path": {"en": "wrong_path", "ja": "暗号化されていないパス"},
    "why_malformed": {"en": "malformed", "ja": "バックアップURLではありません"},
    "why_decrypt_failed": {"en": "decrypt_failed", "ja": "復号できません"},
    "why_unknown_format": {"en": "unknown_format", "ja": "不明な形式"},
    "why_too_large": {"en": "too_large", "ja": "大きすぎます"},
    "why_missing": {"en": "missing", "ja": "リポジトリにありません"},
    "why_repo_not_found": {"en": "repo_not_found", "ja": "リポジトリが見つかりません"},
    "why_no_access": {"en": "no_access", "ja": "アクセスできません"},
    "why_failed": {"en": "failed", "ja": "取得に失敗しました"},
    "why_unverified": {"en": "unverified", "ja": "確認できませんでした（後で再実行）"},
    "why_write_failed": {"en": "write_failed", "ja": "書き込めませんでした"},
    "x_deleted": {"en": "deleted", "ja": "削除済み"},
    "x_protected": {"en": "protected", "ja": "非公開"},
    "x_unavailable": {"en": "unavailable", "ja": "表示できません"},
    "x_not_found": {"en": "not found", "ja": "見つかりません"},
    "x_error": {"en": "not known (error)", "ja": "不明（エラー）"},
    "x_ok": {"en": "available", "ja": "表示可能"},
    "status_ok": {"en": "ok", "ja": "正常"},
    "status_problems": {"en": "problems", "ja": "問題あり"},
    "status_incomplete": {"en": "incomplete", "ja": "未完了"},
    "cli_error": {"en": "hfcheck: error: {message}", "ja": "hfcheck: エラー: {message}"},
    "cli_network": {
        "en": "could not complete a request ({kind}): {error}; what was done is saved, run again",
        "ja": "リクエストを完了できませんでした（{kind}：{error}）。済んだ分は保存済みです。再実行してください",
    },
    "err_table_not_found": {"en": "{db}: table {table!r} not found", "ja": "{db}：テーブル {table!r} がありません"},
    "err_no_column": {
        "en": "{db}: table {table!r} has no column {column!r}",
        "ja": "{db}：テーブル {table!r} に列 {column!r} がありません",
    },
    "err_key_unreadable": {
        "en": "cannot read key file {path}: {error}",
        "ja": "鍵ファイル {path} を読めません：{error}",
    },
    "err_name_does_not_decrypt": {
        "en": "encrypted name {name!r} under {parent!r} does not decrypt with {schemes}"
        " (wrong key, wrong folder or altered name)",
        "ja": "暗号化された名前 {name!r}（{parent!r} 内）は {schemes} で復号できません"
        "（鍵違い・フォルダ違い・名前の改変）",
    },
    "err_setting_required": {
        "en": "setting '{name}' is required (config file or {flag})",
        "ja": "設定 '{name}' が必要です（設定ファイルか {flag}）",
    },
    "err_config_not_found": {"en": "config file not found: {path}", "ja": "設定ファイルがありません：{path}"},
    "err_config_not_toml": {
        "en": "config file {path} is not valid TOML: {error}",
        "ja": "設定ファイル {path} は正しい TOML ではありません：「{error}」",
    },
    "err_unknown_setting": {"en": "{where}: unknown setting '{setting}'", "ja": "{where}：不明な設定 '{setting}'"},
    "err_not_sql_name": {
        "en": "table or column name {name!r} is not a plain SQL identifier",
        "ja": "テーブル名・列名 {name!r} は SQL の単純な識別子ではありません",
    },
    "err_not_repo_id": {
        "en": "setting 'repos': {repo!r} is not a repo id owner/name (or "
        "hf://datasets/owner/name, hf://buckets/owner/name)",
        "ja": "設定 'repos'：{repo!r} は owner/name（または hf://datasets/owner/name、"
        "hf://buckets/owner/name）形式ではありません",
    },
    "err_key_absent": {"en": "cannot read key file {path}: it does not exist", "ja": "鍵ファイル {path} がありません"},
    # -- the demo's narration (sim/demo_cycle.py): `hfcheck demo run` and `demo serve` -----------------
    "demo_built": {
        "en": "demo archive in {root} ({scheme}): planted {counts} and gaps {gaps}",
        "ja": "デモのアーカイブ {root}（{scheme}）：仕込んだURL {counts}、未バックアップ {gaps}",
    },
    "demo_serving": {
        "en": "Hub emulator at {hub}, media server at {media}; the demo user's token: HF_TOKEN={token}",
        "ja": "Hub エミュレータ {hub}、メディアサーバー {media}。デモ用ユーザーのトークン：HF_TOKEN={token}",
    },
    "demo_serve_stop": {"en": "Press Ctrl-C to stop.", "ja": "Ctrl-C で停止します。"},
    "demo_step_audit": {
        "en": "read-only audit: verify, gaps, deep sample, HTML report",
        "ja": "読み取り専用の監査：検証・未バックアップの集計・読み戻し検査・HTML レポート",
    },
    "demo_step_repair": {
        "en": "repair: missing files, wrong paths, lost media lists",
        "ja": "修復：欠落ファイル・誤ったパス・失われたメディアリスト",
    },
    "demo_step_backup": {
        "en": "backup: tweets that were never backed up",
        "ja": "バックアップ：未バックアップのツイート",
    },
    "demo_step_audit_again": {
        "en": "audit again: nothing missing, no gaps",
        "ja": "再監査：欠落なし・未バックアップなし",
    },
    "demo_step_restore": {
        "en": "restore a sample and compare it with the local files",
        "ja": "サンプルを復元し、ローカルファイルと比較",
    },
    "demo_exit_code": {"en": "exit code {rc}", "ja": "終了コード {rc}"},
    "demo_identical": {"en": "identical", "ja": "一致    "},
    "demo_differs": {"en": "DIFFERS  ", "ja": "不一致  "},
    "demo_html": {"en": "HTML report", "ja": "HTML レポート"},
    "demo_data": {"en": "data (progress, reports, state)", "ja": "データ（進捗・レポート・状態）"},
    "demo_afterwards": {
        "en": (
            "To run the commands above yourself: `python -m hfcheck demo serve {root}` (serves its Hub and"
            " media server until Ctrl-C), then in another terminal `export HF_TOKEN={token}`"
        ),
        "ja": (
            "上のコマンドを自分で実行するには：`python -m hfcheck demo serve {root}`（Ctrl-C まで Hub と"
            "メディアサーバーを提供）を起動し、別の端末で `export HF_TOKEN={token}` としてください"
        ),
    },
    "demo_ok": {
        "en": "demo OK: every repairable problem fixed, every restored file identical to its local original",
        "ja": "デモ成功：修復可能な問題はすべて修復され、復元したファイルはすべてローカルの元ファイルと一致",
    },
    "demo_failed": {
        "en": "demo FAILED: still to repair after repair and backup: {left}",
        "ja": "デモ失敗：repair と backup の後も修復すべきものが残っています：{left}",
    },
    # -- `hfcheck doctor` (commands/doctor.py): one line per check, and what to fix ------------------
    "doctor_fix": {"en": "fix", "ja": "対処"},
    "doctor_name_config": {"en": "config", "ja": "設定"},
    "doctor_name_database": {"en": "database", "ja": "データベース"},
    "doctor_name_media_root": {"en": "media root", "ja": "メディアフォルダ"},
    "doctor_name_key": {"en": "key file", "ja": "鍵ファイル"},
    "doctor_name_token": {"en": "token", "ja": "トークン"},
    "doctor_name_endpoint": {"en": "endpoint", "ja": "接続先"},
    "doctor_name_repo": {"en": "repo", "ja": "リポジトリ"},
    "doctor_name_hosts": {"en": "media hosts", "ja": "メディアのホスト"},
    "doctor_skipped": {
        "en": "not checked ({because} is not set or failed)",
        "ja": "未確認（{because} が未設定か失敗）",
    },
    "doctor_config_ok": {"en": "{where}", "ja": "{where}"},
    "doctor_config_missing": {
        "en": "{where}: not set: {names}",
        "ja": "{where}：未設定の項目 {names}",
    },
    "doctor_config_missing_fix": {
        "en": "set them in hfcheck.toml or pass {flags}",
        "ja": "hfcheck.toml に書くか {flags} で指定してください",
    },
    "doctor_config_bad": {"en": "{error}", "ja": "{error}"},
    "doctor_config_bad_fix": {
        "en": "correct the setting named (hfcheck.example.toml lists every key)",
        "ja": "示された設定を直してください（全項目は hfcheck.example.toml に）",
    },
    "doctor_db_not_found": {"en": "{db} not found", "ja": "{db} が見つかりません"},
    "doctor_db_not_found_fix": {
        "en": "set archive.db (or --db) to your archive's SQLite file",
        "ja": "archive.db（または --db）にアーカイブの SQLite ファイルを指定してください",
    },
    "doctor_db_bad": {"en": "{error}", "ja": "{error}"},
    "doctor_db_bad_fix": {
        "en": "set archive.table and archive.columns.* to your table's names",
        "ja": "archive.table と archive.columns.* をテーブルの名前に合わせてください",
    },
    "doctor_db_ok": {
        "en": "{db}: table {table!r} ({columns}), {rows:,} rows, journal mode {journal!r}",
        "ja": "{db}：テーブル {table!r}（{columns}）、{rows:,} 行、ジャーナルモード {journal!r}",
    },
    "doctor_media_not_found": {"en": "{root} is not a folder", "ja": "{root} はフォルダではありません"},
    "doctor_media_not_found_fix": {
        "en": "set archive.media_root (or --media-root) to the folder holding images/ and videos/",
        "ja": "archive.media_root（または --media-root）に images/ と videos/ のあるフォルダを指定してください",
    },
    "doctor_media_unreadable": {"en": "{root} cannot be read", "ja": "{root} を読めません"},
    "doctor_media_unreadable_fix": {
        "en": "give this user read access to it",
        "ja": "このユーザーに読み取り権限を与えてください",
    },
    "doctor_media_ok": {"en": "{root} ({found})", "ja": "{root}（{found}）"},
    "doctor_key_bad": {"en": "{error}", "ja": "{error}"},
    "doctor_key_bad_fix": {
        "en": "point crypto.key_file (or --key-file) at the archive's key, mode 0600",
        "ja": "crypto.key_file（または --key-file）にアーカイブの鍵（モード 0600）を指定してください",
    },
    "doctor_key_ok_names": {
        "en": "{path} (mode {mode}, {scheme}): {opened} of {tried} recorded names decrypt",
        "ja": "{path}（モード {mode}、{scheme}）：記録済みの名前 {tried} 件中 {opened} 件を復号できます",
    },
    "doctor_key_ok_files": {
        "en": "{path} (mode {mode}, {scheme}): {opened} of {tried} recorded backups decrypt (names are one-way)",
        "ja": "{path}（モード {mode}、{scheme}）：記録済みのバックアップ {tried} 件中 {opened} 件を復号できます"
        "（名前は一方向）",
    },
    "doctor_key_ok_record": {
        "en": "{path} (mode {mode}, {scheme}): the key-check record decrypts ({opened} of {tried})",
        "ja": "{path}（モード {mode}、{scheme}）：鍵確認レコードを復号できます（{tried} 件中 {opened} 件）",
    },
    "doctor_key_no_names": {
        "en": "{path} (mode {mode}, {scheme}): nothing recorded to try it on yet (the first backup leaves"
        " a key-check record)",
        "ja": "{path}（モード {mode}、{scheme}）：試せる記録がまだありません"
        "（最初のバックアップが鍵確認レコードを残します）",
    },
    "doctor_key_untried": {
        "en": "{path} (mode {mode}, {scheme}) reads; not tried on recorded names (the database did not open)",
        "ja": "{path}（モード {mode}、{scheme}）は読めます。データベースを開けないため記録済みの名前では未確認",
    },
    "doctor_key_opens_none_fix": {
        "en": "point crypto.key_file (or --key-file) at the key the backups were made with",
        "ja": "バックアップを作った鍵を crypto.key_file（または --key-file）に指定してください",
    },
    "doctor_unreachable": {"en": "not checked: {endpoint} did not answer", "ja": "未確認：{endpoint} が応答しません"},
    "doctor_endpoint_down": {
        "en": "{endpoint} did not answer ({error})",
        "ja": "{endpoint} が応答しません（{error}）",
    },
    "doctor_endpoint_down_fix": {
        "en": "check hub.endpoint (or HF_ENDPOINT) and the network, then run doctor again",
        "ja": "hub.endpoint（または HF_ENDPOINT）とネットワークを確認し、doctor を再実行してください",
    },
    "doctor_endpoint_other": {
        "en": "{endpoint}, but the recorded backups name {recorded}",
        "ja": "{endpoint} ですが、記録済みのバックアップは {recorded} を指しています",
    },
    "doctor_endpoint_other_fix": {
        "en": "set hub.endpoint (or HF_ENDPOINT) to {recorded}",
        "ja": "hub.endpoint（または HF_ENDPOINT）を {recorded} にしてください",
    },
    "doctor_endpoint_xet": {
        "en": "{endpoint} answers; uploads go over Xet",
        "ja": "{endpoint} が応答。アップロードは Xet 経由",
    },
    "doctor_endpoint_lfs": {
        "en": "{endpoint} answers; no Xet there, uploads go over LFS",
        "ja": "{endpoint} が応答。Xet がないためアップロードは LFS 経由",
    },
    "doctor_endpoint_ok": {"en": "{endpoint} answers", "ja": "{endpoint} が応答"},
    "doctor_token_none": {
        "en": "none (HF_TOKEN unset, no hf auth login)",
        "ja": "なし（HF_TOKEN 未設定、hf auth login もなし）",
    },
    "doctor_token_fix": {
        "en": "export HF_TOKEN with a write token of the repos' owner, or run hf auth login",
        "ja": "リポジトリの所有者の書き込み用トークンを HF_TOKEN に設定するか、hf auth login を実行してください",
    },
    "doctor_token_refused": {
        "en": "refused by the Hub ({status}: {error})",
        "ja": "Hub に拒否されました（{status}：{error}）",
    },
    "doctor_token_ok": {"en": "{user}, may write to {repos}", "ja": "{user}：{repos} に書き込めます"},
    "doctor_token_who": {
        "en": "{user} (no repo found to ask for write access)",
        "ja": "{user}（書き込み権限を確認できるリポジトリなし）",
    },
    "doctor_token_unproven": {
        "en": "{user}; write access to {repos} cannot be asked without Xet (the first upload will tell)",
        "ja": "{user}：Xet がないため {repos} への書き込み権限は確認できません（最初のアップロードで判明）",
    },
    "doctor_token_no_write": {"en": "{user} may not write to {repos}", "ja": "{user} は {repos} に書き込めません"},
    "doctor_token_no_write_fix": {
        "en": "use a token with write access to {repos}",
        "ja": "{repos} に書き込めるトークンを使ってください",
    },
    "doctor_repo_ok": {"en": "{repo} found", "ja": "{repo} あり"},
    "doctor_repo_no_access": {"en": "{repo}: no access ({why})", "ja": "{repo}：アクセス不可（{why}）"},
    "doctor_repo_no_revision": {"en": "{repo}: {why}", "ja": "{repo}：リビジョンがありません（{why}）"},
    "doctor_repo_no_revision_fix": {
        "en": "create branch {revision} on the Hub, or set hub.revision (or --revision) to one that exists",
        "ja": "Hub にブランチ {revision} を作るか、hub.revision（または --revision）を既存のものにしてください",
    },
    "doctor_repo_not_found": {"en": "{repo}: {why}", "ja": "{repo}：見つかりません（{why}）"},
    "doctor_repo_not_found_fix": {
        "en": "create the dataset repo {repo}, or correct hub.repos (or --repo)",
        "ja": "データセットリポジトリ {repo} を作るか、hub.repos（または --repo）を直してください",
    },
    "doctor_hosts_ok": {
        "en": "{hosts} ({n:,} sampled media URLs, all allowed)",
        "ja": "{hosts}（サンプルのメディアURL {n:,} 件はすべて許可済み）",
    },
    "doctor_hosts_refused": {
        "en": "{n:,} of {total:,} sampled media URLs are on hosts not allowed: {hosts}",
        "ja": "サンプルのメディアURL {total:,} 件中 {n:,} 件が許可されていないホスト：{hosts}",
    },
    "doctor_hosts_refused_fix": {
        "en": "add the hosts you trust to download.allowed_hosts (now: {allowed})",
        "ja": "信頼するホストを download.allowed_hosts に追加してください（現在：{allowed}）",
    },
    "doctor_all_ok": {"en": "All checks passed.", "ja": "すべての確認に合格しました。"},
    "doctor_to_fix": {
        "en": "Fix the lines marked ✗ (the first one first), then run doctor again.",
        "ja": "✗ の行を（最初のものから）直し、doctor を再実行してください。",
    },
    "doctor_unknown": {
        "en": "Some checks could not run (marked ?): run doctor again when the Hub answers.",
        "ja": "確認できなかった項目があります（? の行）。Hub が応答するときに doctor を再実行してください。",
    },
    # -- the user's database, revisions and exit codes (issue 18: 3-5) --
    "run_repo_problems": {
        "en": "Work was left undone in the repos above (exit 3): fix their access or revision and run again",
        "ja": "上記のリポジトリでは作業が残っています（終了コード 3）。アクセスかリビジョンを直して再実行してください",
    },
    "db_locked": {
        "en": "{path}: the database is locked by another program (waited {seconds} s); what was done is saved,"
        " run the same command again",
        "ja": "{path}: データベースが他のプログラムにロックされています（{seconds} 秒待ちました）。"
        "済んだ分は保存済みです。同じコマンドをもう一度実行してください",
    },
    # -- jafix (issue 18 point 7): error details in the run's language -------------------------------
    # config values (hfcheck.config): `err_setting_value` frames the converter's `err_value_*`
    "err_setting_value": {
        "en": "{where}: setting '{setting}': {problem}",
        "ja": "{where}：設定 '{setting}'：{problem}",
    },
    "err_value_path": {"en": "expected a non-empty path string", "ja": "空でないパスの文字列を指定してください"},
    "err_value_string": {"en": "expected a non-empty string", "ja": "空でない文字列を指定してください"},
    "err_value_pos_int": {"en": "expected a positive integer", "ja": "正の整数を指定してください"},
    "err_value_pos_number": {"en": "expected a positive number", "ja": "正の数を指定してください"},
    "err_value_port": {"en": "expected a port number (0 = off)", "ja": "ポート番号を指定してください（0 で無効）"},
    "err_value_url": {"en": "expected an http(s) URL", "ja": "http:// か https:// で始まる URL を指定してください"},
    "err_value_duration": {
        "en": "expected a duration such as 24h, 15m, 90s or 0",
        "ja": "24h、15m、90s、0 のような時間を指定してください",
    },
    "err_value_scheme": {
        "en": "expected {schemes} | 'python:package.module:attr', not {value}",
        "ja": "{schemes} | 'python:package.module:attr' のいずれかを指定してください（指定値：{value}）",
    },
    "err_value_str_list": {"en": "expected a list of strings", "ja": "文字列のリストを指定してください"},
    "err_set_flag": {
        "en": "--set {item}: expected section.key=VALUE",
        "ja": "--set {item}：section.key=値 の形で指定してください",
    },
    "err_setting_lang": {
        "en": "setting 'lang' must be en, ja or auto, not {value}",
        "ja": "設定 'lang' は 'en'、'ja'、'auto' のいずれかです（指定値：{value}）",
    },
    "err_setting_endpoint": {
        "en": "setting 'endpoint' is not an http(s) URL: {value}",
        "ja": "設定 'endpoint' が http:// か https:// で始まる URL ではありません：{value}",
    },
    "err_setting_revision": {
        "en": "setting 'revision' is not a valid revision: {value}",
        "ja": "設定 'revision' が正しいリビジョンではありません：{value}",
    },
    # the archive database and the key file
    "err_db_not_found": {
        "en": "archive database not found: {path}",
        "ja": "アーカイブのデータベースがありません：{path}",
    },
    "err_db_cannot_open": {
        "en": "cannot open archive database {path}: {error}",
        "ja": "アーカイブのデータベース {path} を開けません：「{error}」",
    },
    "err_key_exists": {
        "en": "key file {path} already exists; refusing to overwrite it",
        "ja": "鍵ファイル {path} は既にあります。上書きしません",
    },
    "err_key_cannot_create": {
        "en": "cannot create key file {path}: {error}",
        "ja": "鍵ファイル {path} を作成できません：「{error}」",
    },
    "err_key_not_regular": {
        "en": "key file {path} is not a regular file",
        "ja": "鍵ファイル {path} は通常のファイルではありません",
    },
    "err_key_mode": {
        "en": "key file {path} is accessible by group or others (mode {mode}); run: chmod 600 {path}",
        "ja": "鍵ファイル {path} がグループや他のユーザーから読めます（モード {mode}）。"
        "`chmod 600 {path}` を実行してください",
    },
    "err_key_too_large": {
        "en": "key file {path} is not valid: larger than {limit} bytes",
        "ja": "鍵ファイル {path} が正しくありません：{limit} バイトを超えています",
    },
    "err_key_not_base64": {
        "en": "key file {path} is not valid: expected one line of base64 encoding {size} bytes",
        "ja": "鍵ファイル {path} が正しくありません：{size} バイトを表す `base64` の1行が必要です",
    },
    # restore: a failed file whose detail is the Hub's own answer (quoted, in its English)
    "restore_failed_line_hub": {
        "en": "FAILED tweet {tweet_id} [{index}] {where}: {category}: {detail}",
        "ja": "失敗：ツイート {tweet_id} [{index}] {where}：{category}（Hub の応答：「{detail}」）",
    },
    # error lines raised across hfcheck (one key per message; English as it was)
    "err_interrupted_resume": {
        "en": "interrupted; what was done is saved (run again, with --resume where offered, to continue)",
        "ja": "中断しました。済んだ分は保存済みです（続けるには再実行してください。"
        "--resume があるコマンドではそれを付けて）",
    },
    "err_interrupted": {
        "en": "interrupted; what was done is saved (run again to continue)",
        "ja": "中断しました。済んだ分は保存済みです（続けるには再実行してください）",
    },
    "err_flag_value": {
        "en": "{flag}: {problem}",
        "ja": "{flag}：{problem}",
    },
    "err_crypt_path_needed": {
        "en": "--path is required with {scheme}: its files are bound to their path in the repo",
        "ja": "{scheme} では --path が必要です：ファイルがリポジトリ内のパスに結び付けられます",
    },
    "err_crypt_keyfile_needed": {
        "en": "give KEYFILE or set 'key_file' (config file or --key-file)",
        "ja": "`KEYFILE` を指定するか、'key_file' を設定してください（設定ファイルか --key-file）",
    },
    "err_crypt_unknown_format": {
        "en": "{src}: unknown format: none of {schemes} recognises it",
        "ja": "{src}：不明な形式です（{schemes} のどれにも当てはまりません）",
    },
    "err_hub_user": {
        "en": "--user expects NAME:TOKEN",
        "ja": "--user には `NAME:TOKEN` の形で指定してください",
    },
    "err_hub_rate": {
        "en": "{name} must be between 0 and 1, got {value}",
        "ja": "{name} は 0 から 1 の間で指定してください（指定値：{value}）",
    },
    "err_hub_port": {
        "en": "--port must be between 0 and 65535, got {port}",
        "ja": "--port は 0 から 65535 の間で指定してください（指定値：{port}）",
    },
    "err_hub_not_negative": {
        "en": "{flag} must be >= 0",
        "ja": "{flag} は 0 以上で指定してください",
    },
    "err_hub_rate_window": {
        "en": "--rate-window must be > 0",
        "ja": "--rate-window は 0 より大きく指定してください",
    },
    "err_hub_quotas": {
        "en": "quotas must be >= 0",
        "ja": "容量の上限は 0 以上で指定してください",
    },
    "err_hub_data": {
        "en": "--data {path}: {error}",
        "ja": "--data {path}：使えません「{error}」",
    },
    "err_hub_listen": {
        "en": "cannot listen on {host}:{port}: {error}",
        "ja": "{host}:{port} で待ち受けできません：「{error}」",
    },
    "err_sample_fraction": {
        "en": "--sample {text!r}: expected n/t with 1 <= n <= t",
        "ja": "--sample {text!r}：n/t の形で 1 <= n <= t にしてください",
    },
    "err_sample_percent": {
        "en": "--sample {text!r}: a percentage must be above 0 and at most 100",
        "ja": "--sample {text!r}：割合は 0 より大きく 100 以下にしてください",
    },
    "err_sample_form": {
        "en": "--sample {text!r}: expected n/t (e.g. 1/20), a percentage (e.g. 5%) or 'all'",
        "ja": "--sample {text!r}：n/t（例 1/20）、割合（例 5%）、'all' のいずれかを指定してください",
    },
    "err_select_one": {
        "en": "choose exactly one of --tweet ID, --user NAME or --all",
        "ja": "--tweet、--user、--all のどれか一つを指定してください",
    },
    "err_select_tweet": {
        "en": "--tweet expects a numeric tweet id, not {value!r}",
        "ja": "--tweet には数字のツイート ID を指定してください（指定値：{value!r}）",
    },
    "err_select_user": {
        "en": "--user expects an account name [A-Za-z0-9_]{{1,15}}, not {value!r}",
        "ja": "--user にはアカウント名 `[A-Za-z0-9_]{{1,15}}` を指定してください（指定値：{value!r}）",
    },
    "err_tweet_not_in_archive": {
        "en": "tweet {tweets} not found in the archive",
        "ja": "ツイート {tweets} はアーカイブにありません",
    },
    "err_progress_absent": {
        "en": "no progress file to resume: {path}",
        "ja": "再開する進捗ファイルがありません：{path}",
    },
    "err_progress_corrupt": {
        "en": "progress file {path} is corrupt ({error}); move it away to start over",
        "ja": "進捗ファイル {path} が壊れています（「{error}」）。最初からやり直すには別の場所へ移してください",
    },
    "err_progress_foreign": {
        "en": "{path} is not an hfcheck progress file; move it away to start over",
        "ja": "{path} は hfcheck の進捗ファイルではありません。最初からやり直すには別の場所へ移してください",
    },
    "err_progress_version": {
        "en": "progress file {path} has version {version!r}, expected {expected}",
        "ja": "進捗ファイル {path} の版は {version!r} です（必要な版：{expected}）",
    },
    "err_progress_revision": {
        "en": "progress file {path} was checked at revision {was!r}, not "
        "{now!r}: run verify again, or give the same --revision",
        "ja": "進捗ファイル {path} はリビジョン {was!r} で確認したもので、{now!r} "
        "ではありません。verify をやり直すか、同じ --revision を指定してください",
    },
    "err_progress_other_archive": {
        "en": "progress file {path} belongs to another archive ({db}); use another --data-dir or move it away",
        "ja": "進捗ファイル {path} は別のアーカイブ（{db}）のものです。"
        "別の --data-dir を使うか、別の場所へ移してください",
    },
    "err_progress_field": {
        "en": "progress file {path} is corrupt (field {field}); move it away to start over",
        "ja": "進捗ファイル {path} が壊れています（項目 {field}）。最初からやり直すには別の場所へ移してください",
    },
    "err_watch_state": {
        "en": "{path}: not a watch state file ({why}); move it away to start afresh",
        "ja": "{path}：watch の状態ファイルではありません（「{why}」）。最初から始めるには別の場所へ移してください",
    },
    "err_watch_state_bare": {
        "en": "{path}: not a watch state file; move it away to start afresh",
        "ja": "{path}：watch の状態ファイルではありません。最初から始めるには別の場所へ移してください",
    },
    "err_audit_history": {
        "en": "{path}: not an audit history ({why}); move it away to start a new one",
        "ja": "{path}：監査の履歴ではありません（「{why}」）。新しく始めるには別の場所へ移してください",
    },
    "err_audit_history_entries": {
        "en": "{path}: not an audit history (no list of entries); move it away to start a new one",
        "ja": "{path}：監査の履歴ではありません（記録の一覧がありません）。新しく始めるには別の場所へ移してください",
    },
    "err_no_repo": {
        "en": "no repo configured: add one to hub.repos",
        "ja": "リポジトリが設定されていません：hub.repos に追加してください",
    },
    "err_repo_refused": {
        "en": "repo {repo}@{revision}: {why}",
        "ja": "リポジトリ {repo}@{revision}：{why}",
    },
    "err_repo_unlisted": {
        "en": "could not list repo {repo}: {error}",
        "ja": "リポジトリ {repo} の一覧を取得できません：「{error}」",
    },
    "err_repos_full": {
        "en": "every configured repo is full (≤{per_repo} files per repo, "
        "≤{per_folder} per folder): add a repo to hub.repos",
        "ja": "設定したリポジトリはすべて満杯です（1リポジトリ {per_repo} ファイル、1フォルダー "
        "{per_folder} まで）：hub.repos にリポジトリを追加してください",
    },
    "err_verify_unfinished": {
        "en": "the verify run in {path} did not finish: run `hfcheck verify --resume` first",
        "ja": "{path} の verify は終わっていません：先に `hfcheck verify --resume` を実行してください",
    },
    "err_no_scheme_recognises": {
        "en": "no configured scheme ({schemes}) recognises it",
        "ja": "設定した方式（{schemes}）のどれにも当てはまりません",
    },
    "err_state_newer": {
        "en": "state database {path} was written by a newer hfcheck (schema {version})",
        "ja": "状態データベース {path} は新しい版の hfcheck が書いたものです（スキーマ {version}）",
    },
    "err_state_unusable": {
        "en": "state database {path} cannot be used: {error}",
        "ja": "状態データベース {path} を使えません：「{error}」",
    },
    "err_db_rows_unwritten": {
        "en": "{path}: could not write the rows ({error}); the Hub already "
        "has their files: run the same command again to record them",
        "ja": "{path}：行を書き込めません（「{error}」）。ファイルは "
        "Hub に届いています：同じコマンドを再実行すると記録されます",
    },
    "err_twscrape_cookies": {
        "en": "cookies for twscrape account {name!r} lack auth_token or ct0",
        "ja": "twscrape のアカウント {name!r} のクッキーに auth_token か ct0 がありません",
    },
    "err_twscrape_outdated": {
        "en": "X rejected twscrape's GraphQL features (GqlFeaturesOutdated): upgrade twscrape",
        "ja": "X が twscrape の要求を受け付けません（「GqlFeaturesOutdated」）：twscrape を更新してください",
    },
    "err_plugin_form": {
        "en": "setting 'crypto.scheme': {scheme!r} is not python:package.module:attr",
        "ja": "設定 'crypto.scheme'：{scheme!r} は 'python:package.module:attr' の形ではありません",
    },
    "err_plugin_import": {
        "en": "crypto scheme {scheme}: cannot import module {module!r} ({error})",
        "ja": "暗号方式 {scheme}：モジュール {module!r} を読み込めません（「{error}」）",
    },
    "err_plugin_import_failed": {
        "en": "crypto scheme {scheme}: importing {module!r} failed: {kind}: {error}",
        "ja": "暗号方式 {scheme}：{module!r} の読み込みに失敗しました（「{kind}: {error}」）",
    },
    "err_plugin_attr": {
        "en": "crypto scheme {scheme}: module {module!r} has no attribute {attr!r}",
        "ja": "暗号方式 {scheme}：モジュール {module!r} に {attr!r} がありません",
    },
    "err_plugin_no_name": {
        "en": "{where}: {kind} is not a codec: no 'name' string",
        "ja": "{where}：「{kind}」は codec ではありません（文字列の 'name' がありません）",
    },
    "err_plugin_flag": {
        "en": "{where}: {kind} is not a codec: '{flag}' must be True or False",
        "ja": "{where}：「{kind}」は codec ではありません（'{flag}' は `True` か `False` です）",
    },
    "err_plugin_max_size": {
        "en": "{where}: {kind} is not a codec: 'max_file_size' must be None or a positive int",
        "ja": "{where}：「{kind}」は codec ではありません（'max_file_size' は `None` か正の整数です）",
    },
    "err_plugin_method": {
        "en": "{where}: {kind} is not a codec: no method '{method}'",
        "ja": "{where}：「{kind}」は codec ではありません（メソッド '{method}' がありません）",
    },
    "err_plugin_create": {
        "en": "crypto scheme {scheme}: creating the codec failed: {kind}{detail}",
        "ja": "暗号方式 {scheme}：codec を作れません（「{kind}{detail}」）",
    },
    "err_unknown_scheme": {
        "en": "unknown crypto scheme {scheme!r}: expected {schemes} | python:package.module:attr",
        "ja": "不明な暗号方式 {scheme!r}：{schemes} | 'python:package.module:attr' のいずれかです",
    },
    "err_scheme_not_configured": {
        "en": "crypto scheme {scheme!r} is not configured (have: {schemes})",
        "ja": "暗号方式 {scheme!r} は設定されていません（設定済み：{schemes}）",
    },
    "err_same_file": {
        "en": "input and output are the same file: {src}",
        "ja": "入力と出力が同じファイルです：{src}",
    },
    "err_shrank": {
        "en": "{src} shrank while being encrypted",
        "ja": "{src} が暗号化中に小さくなりました",
    },
    "err_grew": {
        "en": "{src} grew while being encrypted",
        "ja": "{src} が暗号化中に大きくなりました",
    },
    # the encryption's error details (hfcheck.crypto): shown by `crypt`, restore and the reports
    "err_enc_size_short": {
        "en": "impossible encrypted size {size}: shorter than header and one tag",
        "ja": "ありえない暗号文の大きさです（{size}）：ヘッダーと認証タグ1つより短い",
    },
    "err_enc_size_cut": {
        "en": "impossible encrypted size {size}: truncated or extended file",
        "ja": "ありえない暗号文の大きさです（{size}）：切り詰められたか、継ぎ足されたファイル",
    },
    "err_enc_too_many_chunks": {
        "en": "file too large: chunk counter exhausted",
        "ja": "ファイルが大きすぎます：チャンク番号が尽きました",
    },
    "err_enc_header_cut": {
        "en": "{path}: truncated: incomplete header",
        "ja": "{path}：切り詰められています（ヘッダーが不完全）",
    },
    "err_enc_final_missing": {
        "en": "{path}: truncated: the final chunk is missing",
        "ja": "{path}：切り詰められています（最後のチャンクがありません）",
    },
    "err_enc_empty_final": {
        "en": "{path}: empty final chunk after data: tampered file",
        "ja": "{path}：データの後に空の最終チャンクがあります（改ざんされたファイル）",
    },
    "err_enc_version": {
        "en": "{path}: unsupported format version {version}",
        "ja": "{path}：対応していない形式の版です（{version}）",
    },
    "err_enc_magic": {
        "en": "{path}: not an hfcheck encrypted file (bad magic)",
        "ja": "{path}：hfcheck の暗号化ファイルではありません（先頭の識別子が違います）",
    },
    "err_enc_chunk_size": {
        "en": "{path}: chunk {chunk}: bad chunk size",
        "ja": "{path}：チャンク {chunk}：チャンクの大きさが正しくありません",
    },
    "err_enc_auth_first": {
        "en": "{path}: chunk {chunk}: authentication failed (wrong key, wrong remote path, or damaged file)",
        "ja": "{path}：チャンク {chunk}：認証に失敗しました（鍵かリポジトリ内のパスが違うか、ファイルが壊れています）",
    },
    "err_enc_auth": {
        "en": "{path}: chunk {chunk}: authentication failed (damaged, reordered or foreign chunk)",
        "ja": "{path}：チャンク {chunk}：認証に失敗しました（壊れたチャンク、"
        "順序の入れ替え、または別のファイルのチャンク）",
    },
    "err_enc_not_final": {
        "en": "{path}: chunk {chunk}: truncated: the last chunk present is not the final one",
        "ja": "{path}：チャンク {chunk}：切り詰められています（残っている最後のチャンクが最終チャンクではありません）",
    },
    "err_enc_extended": {
        "en": "{path}: chunk {chunk}: data follows the final chunk (extended file)",
        "ja": "{path}：チャンク {chunk}：最終チャンクの後にデータがあります（継ぎ足されたファイル）",
    },
    "err_enc_cut_reading": {
        "en": "truncated while being read",
        "ja": "読み込み中に切り詰められました",
    },
    "err_enc_grew_reading": {
        "en": "data follows the final chunk (the file grew while being read)",
        "ja": "最終チャンクの後にデータがあります（読み込み中にファイルが大きくなりました）",
    },
    "err_in_file": {
        "en": "{src}: {error}",
        "ja": "{src}：{error}",
    },
    "err_codec_no_decrypt": {
        "en": "{src}: {scheme}: does not decrypt ({kind})",
        "ja": "{src}：{scheme}：復号できません（「{kind}」）",
    },
    "err_names_one_way": {
        "en": "{scheme}: names are one-way; {name!r} cannot be decrypted",
        "ja": "{scheme}：名前は一方向の変換です。{name!r} は復号できません",
    },
    "err_too_large_plaintext": {
        "en": "{src}: a plaintext of {size} bytes is above {setting} ({limit} bytes): "
        "{scheme} cannot stream, the whole file would be held in memory",
        "ja": "{src}：平文 {size} バイトは {setting}（{limit} バイト）を超えています。"
        "{scheme} は分割処理ができず、ファイル全体をメモリーに置くことになります",
    },
    "err_too_large_ciphertext": {
        "en": "{src}: a ciphertext of {size} bytes is above {setting} ({limit} bytes): "
        "{scheme} cannot stream, the whole file would be held in memory",
        "ja": "{src}：暗号文 {size} バイトは {setting}（{limit} バイト）を超えています。"
        "{scheme} は分割処理ができず、ファイル全体をメモリーに置くことになります",
    },
    "err_fernet_token": {
        "en": "not a Fernet token of this key (wrong key, or an altered or truncated file)",
        "ja": "この鍵の fernet トークンではありません（鍵が違うか、ファイルが改変または切り詰められています）",
    },
    "err_fernet_name_long": {
        "en": "file name too long to encrypt with Fernet: {size} UTF-8 bytes, at most 127",
        "ja": "fernet で暗号化するにはファイル名が長すぎます：UTF-8 で {size} バイト（上限 127）",
    },
    "err_fernet_not_name": {
        "en": "not a Fernet name: {name!r}",
        "ja": "fernet の名前ではありません：{name!r}",
    },
    "err_fernet_name_token": {
        "en": "encrypted name {name!r} is not a Fernet token of this key (wrong key or altered name)",
        "ja": "暗号化された名前 {name!r} はこの鍵の fernet "
        "トークンではありません（鍵が違うか、名前が改変されています）",
    },
    "err_name_decrypts_invalid": {
        "en": "encrypted name {name!r} decrypts to an invalid name",
        "ja": "暗号化された名前 {name!r} を復号すると正しくない名前になります",
    },
    "err_name_not_str": {
        "en": "a file name must be a string",
        "ja": "ファイル名は文字列でなければなりません",
    },
    "err_name_invalid": {
        "en": "not a valid file name: {name!r}",
        "ja": "正しいファイル名ではありません：{name!r}",
    },
    "err_parent_invalid": {
        "en": "not a valid parent folder: {parent!r}",
        "ja": "正しい親フォルダーではありません：{parent!r}",
    },
    "err_name_long": {
        "en": "file name too long to encrypt: {size} UTF-8 bytes, at most {limit}",
        "ja": "暗号化するにはファイル名が長すぎます：UTF-8 で {size} バイト（上限 {limit}）",
    },
    "err_name_no_decrypt": {
        "en": "encrypted name {name!r} does not decrypt under {parent!r} (wrong key, wrong folder or altered name)",
        "ja": "暗号化された名前 {name!r} は {parent!r} の下で復号できません（鍵かフォルダーが違うか、"
        "名前が改変されています）",
    },
    "err_no_scheme_names": {
        "en": "no configured scheme can decrypt names ({schemes}); {name!r}",
        "ja": "設定した方式（{schemes}）はどれも名前を復号できません：{name!r}",
    },
    # paths from the database and the repo (hfcheck.model.paths): shown by `crypt` and in reports
    "err_path_not_repo": {
        "en": "{text!r} is not NS/NAME, hf://datasets/NS/NAME or hf://buckets/NS/NAME",
        "ja": "{text!r} は NS/NAME、hf://datasets/NS/NAME、hf://buckets/NS/NAME のどれでもありません",
    },
    "err_path_extension": {
        "en": "unknown media extension {ext!r}",
        "ja": "不明なメディアの拡張子です：{ext!r}",
    },
    "err_path_unsafe_part": {
        "en": "unsafe {what}: {value!r}",
        "ja": "安全でない値です（{what}）：{value!r}",
    },
    "err_path_username": {
        "en": "unsafe username: {value!r}",
        "ja": "安全でないユーザー名です：{value!r}",
    },
    "err_path_unsafe": {
        "en": "unsafe path: {rel!r}",
        "ja": "安全でないパスです：{rel!r}",
    },
    "err_path_escapes": {
        "en": "path escapes its root: {rel!r}",
        "ja": "パスが基準のフォルダーの外に出ます：{rel!r}",
    },
    "err_path_media_name": {
        "en": "not a media file name {{tweet_id}}_{{index}}.{{ext}}: {name!r}",
        "ja": "メディアのファイル名 `{{tweet_id}}_{{index}}.{{ext}}` の形ではありません：{name!r}",
    },
    "err_path_local": {
        "en": "not a local media path images|videos/USER/NAME: {rel!r}",
        "ja": "ローカルのメディアのパス `images|videos/USER/NAME` の形ではありません：{rel!r}",
    },
    "err_path_not_encrypted": {
        "en": "not an encrypted media path: {path!r}",
        "ja": "暗号化されたメディアのパスではありません：{path!r}",
    },
    "err_host_entry": {"en": "bad host entry {entry!r}", "ja": "ホストの指定が正しくありません：{entry!r}"},
    "err_host_port": {
        "en": "bad port in host entry {entry!r}",
        "ja": "ホストの指定のポートが正しくありません：{entry!r}",
    },
    "cli_aborted": {"en": "aborted", "ja": "中止しました"},
    # click's usage errors under Japanese (hfcheck.cli._click_failed); English keeps click's text
    "usage_no_such_option": {
        "en": "no such option: {option} (see {command} --help)",
        "ja": "不明なオプションです：{option}（`{command} --help` で使い方を表示）",
    },
    "usage_missing": {
        "en": "missing {param} (see {command} --help)",
        "ja": "`{param}` の指定がありません（`{command} --help` で使い方を表示）",
    },
    "usage_bad_value": {
        "en": "invalid value for {param}: {detail} (see {command} --help)",
        "ja": "{param} の値が正しくありません：「{detail}」（`{command} --help` で使い方を表示）",
    },
    "usage_needs_value": {
        "en": "option {option} requires an argument (see {command} --help)",
        "ja": "オプション {option} には値が必要です（`{command} --help` で使い方を表示）",
    },
    "usage_no_such_command": {
        "en": "no such command: {detail} (see {command} --help)",
        "ja": "不明なコマンドです：{detail}（`{command} --help` で使い方を表示）",
    },
    "usage_extra_argument": {
        "en": "unexpected extra argument: {detail} (see {command} --help)",
        "ja": "余分な引数があります：「{detail}」（`{command} --help` で使い方を表示）",
    },
    "usage_other": {
        "en": "{detail} (see {command} --help)",
        "ja": "コマンドラインが正しくありません：「{detail}」（`{command} --help` で使い方を表示）",
    },
}


def count(noun: str, n: int, lang: str) -> str:
    """`1 file`, `2 files` (`count_{noun}_one|other`): English plurals right, one form in Japanese."""
    return t(f"count_{noun}_{'one' if n == 1 else 'other'}", lang, n=n)


def label(prefix: str, word: str, lang: str) -> str:
    """The catalog's word for an identifier (`kind_missing` -> 欠落), or the identifier itself."""
    key = f"{prefix}_{word}"
    return t(key, lang) if key in MESSAGES else word


def t(key: str, lang: str, **values: Any) -> str:
    """The message `key` in `lang` (English when a translation is missing), filled with `values`."""
    entry = MESSAGES[key]
    text = entry.get(lang) or entry["en"]
    return text.format(**values) if values else text


@dataclass(frozen=True)
class Msg:
    """A message to show later, in whichever language the run prints: a key and its values.

    `str(msg)` is the English text (the JSON reports' reasons, which machines read)."""

    key: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def render(self, lang: str) -> str:
        """The text in `lang`; a value that renders itself (a `Msg`: a status word; an error
        raised with a `Msg`) is rendered in `lang` too."""
        values = {k: v.render(lang) if callable(getattr(v, "render", None)) else v for k, v in self.values.items()}
        return t(self.key, lang, **values).strip()

    def __str__(self) -> str:
        return self.render("en")


def msg(key: str, **values: Any) -> Msg:
    """`Msg(key, values)`, checked now: an unknown key fails where it is made, not when shown."""
    if key not in MESSAGES:
        raise KeyError(key)
    return Msg(key, values)
