package console

import (
	"fmt"
	"strings"
)

// messages are the console's words in English and Japanese. A key missing in Japanese falls back to
// English, and one missing in both shows as the key (a test checks that every key the templates use
// is here in both).
var messages = map[string]map[string]string{
	"en": {
		"title_signin": "Sign in", "title_error": "Error", "title_dashboard": "Dashboard", "title_alerts": "Alert queue",
		"title_alert": "Alert", "title_account": "Account", "title_campaigns": "Campaigns", "title_campaign": "Campaign",
		"nav_dashboard": "Dashboard", "nav_alerts": "Alerts", "nav_campaigns": "Campaigns", "account_search": "Account id…",
		"signout": "Sign out", "footer_tz": "Times in %s.",
		"role_analyst": "analyst", "role_supervisor": "supervisor", "role_admin": "admin",
		"signin_title": "Sign in to brokerguard", "signin_name": "Name", "signin_password": "Password", "signin_button": "Sign in",
		"signin_missing": "Enter your name and password.", "signin_wrong": "Wrong name or password.",
		"signin_locked":  "Too many failed sign-ins: this user is locked for a while. Try again later or ask an administrator.",
		"back_dashboard": "Back to the dashboard", "signin_oidc": "Sign in with the firm's identity provider", "signed_in_continue": "Signed in. Continue", "oidc_refused": "The identity provider's sign-in was refused: ask an administrator to add you as a console user.", "oidc_unavailable": "The identity provider does not answer; try again shortly.", "title_moving": "Signed in",
		"not_found": "Not found.", "bad_origin": "Refused: the request came from another site.",
		"unavailable": "The store is not answering; try again shortly.", "signed_out": "You are signed out (or your session expired). Sign in again.",
		"forbidden_role": "Your role may not do this.", "bad_csrf": "The form expired or did not come from this console. Reload the page and try again.",
		"internal": "Something went wrong on the server; it has been logged.", "bad_filter": "A filter is not valid.",
		"need_reason": "Give a reason (at most 500 characters).", "unlock_not_locked": "The account is not locked.",
		"data_time": "Data as of", "events_stored": "events", "decisions_stored": "decisions",
		"campaigns_under_way": "Campaigns under way", "no_campaigns": "No campaign under way.", "since": "since",
		"victims": "Victims", "beneficiaries": "Beneficiaries", "decisions_by_action": "Decisions by action",
		"log_scale": "Bar lengths on a log scale.", "open_alerts_by_kind": "Open alerts by kind", "open_queue": "Open the queue",
		"hourly_title": "Decisions other than allow, per hour (last 48 hours of data)",
		"action_allow": "allow", "action_review": "review", "action_challenge": "challenge", "action_hold": "hold", "action_block": "block",
		"kind_account_takeover": "Account takeover", "kind_campaign": "Campaign", "kind_beneficiary": "Beneficiary",
		"kind_credential_stuffing": "Credential stuffing", "kind_shared_infrastructure": "Shared infrastructure", "kind_phishing_site": "Phishing site",
		"kind": "Kind", "status": "Status", "status_open": "Open", "status_acknowledged": "Acknowledged", "status_dismissed": "Dismissed", "status_all": "All",
		"all_kinds": "All kinds", "account": "Account", "from": "From", "to": "To", "filter": "Filter", "clear": "Clear",
		"time": "Time", "score": "Score", "accounts": "Accounts", "symbols": "Symbols", "reason": "Reason", "assignee": "Assignee",
		"no_alerts": "No alerts.", "newest": "Newest", "older": "Older",
		"why": "Why", "actions": "Actions", "acknowledge": "Acknowledge", "assign_to_me": "Assign to me", "dismiss": "Dismiss",
		"reopen": "Reopen", "reason_placeholder": "Why dismiss? (required)", "history": "History",
		"done_alert.acknowledge": "Acknowledged.", "done_alert.assign": "Assigned to you.", "done_alert.dismiss": "Dismissed.",
		"done_alert.reopen": "Reopened.", "done_unlocked": "The account is unlocked.",
		"locked": "locked", "not_locked": "not locked", "unlock": "Unlock", "unlock_reason": "How was the customer re-verified? (required)",
		"timeline": "Timeline", "timeline_truncated": "The latest %s decisions.", "event": "Event", "details": "Details",
		"decision": "Decision", "alert": "Alert", "device": "device", "no_events": "Nothing stored for this account.",
		"type_login": "Login", "type_order": "Order", "type_withdrawal": "Withdrawal", "type_profile_change": "Account change",
		"campaign_alerts": "Campaign alerts", "campaign_on": "Campaign on", "under_way": "under way", "found_at": "Found at",
		"hijacked_buys": "Hijacked buys", "beneficiary_sells": "Beneficiaries' sells", "quotes_n": "%d quotes",
		"buys": "Buys", "sells": "Sells", "title_audit": "Audit trail", "title_watchlist": "Watchlist", "nav_watchlist": "Watchlist", "watchlist_off": "The campaign layer is off: there is no watchlist.", "watch_invalid": "The entry is not valid.", "watch_active_only": "Active entries only", "watch_show_all": "Show expired and removed entries too", "done_watch_added": "Added to the watchlist.", "done_watch_removed": "Removed from the watchlist.", "done_watch_pinned": "Changed.", "watch_symbol": "Symbol", "watch_account": "Account", "watch_prefix": "Address block", "watch_device": "Device", "watch_destination": "Payee", "watch_value": "Value", "watch_pinned": "Pinned", "watch_add": "Watch", "watch_source": "Source", "watch_added": "Added", "watch_expires": "Expires", "watch_pin": "Pin", "watch_unpin": "Unpin", "watch_remove": "Remove", "watch_none": "The watchlist is empty.", "nav_audit": "Audit", "audit_note": "Every staff action, written before it applied; oldest first.", "audit_target": "Target", "audit_action": "Action", "audit_actor": "Who", "audit_none": "No entries.", "later": "Later", "market_order": "market", "none": "None.", "chart_price": "Price (yen)", "chart_volume": "Volume",
		"title_held": "Held orders and withdrawals", "nav_held": "Held", "held_note": "Orders and withdrawals the engine held: accepted, not routed until the customer confirms or an analyst releases them. Newest first.", "held_state": "State", "held_held": "held", "held_released": "released", "held_cancelled": "cancelled", "held_release": "Release", "held_cancel": "Cancel", "held_none": "Nothing held.", "held_by": "by", "held_stepup": "step-up", "held_unresolved_only": "Waiting only", "held_show_all": "Show released and cancelled too", "done_held_released": "Released: the item goes on to be routed.", "done_held_cancelled": "Cancelled: the item is not routed.", "held_conflict": "This item is not held any more, or was resolved the other way.", "held_invalid": "The request is not valid.", "held_off": "Held items are not available on this server.",
	},
	"ja": {
		"title_signin": "サインイン", "title_error": "エラー", "title_dashboard": "ダッシュボード", "title_alerts": "アラート一覧",
		"title_alert": "アラート", "title_account": "口座", "title_campaigns": "キャンペーン", "title_campaign": "キャンペーン",
		"nav_dashboard": "ダッシュボード", "nav_alerts": "アラート", "nav_campaigns": "キャンペーン", "account_search": "口座番号…",
		"signout": "サインアウト", "footer_tz": "時刻は %s で表示しています。",
		"role_analyst": "アナリスト", "role_supervisor": "スーパーバイザー", "role_admin": "管理者",
		"signin_title": "brokerguard にサインイン", "signin_name": "ユーザー名", "signin_password": "パスワード", "signin_button": "サインイン",
		"signin_missing": "ユーザー名とパスワードを入力してください。", "signin_wrong": "ユーザー名またはパスワードが違います。",
		"signin_locked":  "サインインの失敗が続いたため、このユーザーは一時的にロックされています。しばらくしてから再度お試しいただくか、管理者にご連絡ください。",
		"back_dashboard": "ダッシュボードへ戻る", "signin_oidc": "社内の ID プロバイダーでサインイン", "signed_in_continue": "サインインしました。続ける", "oidc_refused": "ID プロバイダーでのサインインは受け付けられませんでした。管理者にコンソールユーザーの登録を依頼してください。", "oidc_unavailable": "ID プロバイダーが応答しません。しばらくしてから再度お試しください。", "title_moving": "サインイン",
		"not_found": "見つかりません。", "bad_origin": "他のサイトからのリクエストは受け付けません。",
		"unavailable": "ストアが応答しません。しばらくしてから再度お試しください。", "signed_out": "サインアウトしています（またはセッションの期限が切れました）。再度サインインしてください。",
		"forbidden_role": "この操作を行う権限がありません。", "bad_csrf": "フォームの有効期限が切れたか、このコンソールからの送信ではありません。ページを再読み込みしてください。",
		"internal": "サーバーでエラーが発生しました（記録済み）。", "bad_filter": "絞り込み条件が正しくありません。",
		"need_reason": "理由を入力してください（500 文字以内）。", "unlock_not_locked": "この口座はロックされていません。",
		"data_time": "データ時点", "events_stored": "イベント", "decisions_stored": "判定",
		"campaigns_under_way": "進行中のキャンペーン", "no_campaigns": "進行中のキャンペーンはありません。", "since": "検知",
		"victims": "被害口座", "beneficiaries": "受益口座", "decisions_by_action": "アクション別の判定数",
		"log_scale": "棒の長さは対数目盛です。", "open_alerts_by_kind": "種類別の未対応アラート", "open_queue": "アラート一覧を開く",
		"hourly_title": "許可以外の判定（1 時間ごと、直近 48 時間）",
		"action_allow": "許可", "action_review": "要確認", "action_challenge": "追加認証", "action_hold": "保留", "action_block": "拒否",
		"kind_account_takeover": "口座乗っ取り", "kind_campaign": "キャンペーン", "kind_beneficiary": "受益者",
		"kind_credential_stuffing": "リスト型攻撃", "kind_shared_infrastructure": "共有インフラ", "kind_phishing_site": "フィッシングサイト",
		"kind": "種類", "status": "状態", "status_open": "未対応", "status_acknowledged": "確認済み", "status_dismissed": "却下", "status_all": "すべて",
		"all_kinds": "すべての種類", "account": "口座", "from": "開始", "to": "終了", "filter": "絞り込み", "clear": "クリア",
		"time": "時刻", "score": "スコア", "accounts": "口座", "symbols": "銘柄", "reason": "理由", "assignee": "担当者",
		"no_alerts": "アラートはありません。", "newest": "最新", "older": "さらに古い",
		"why": "理由", "actions": "操作", "acknowledge": "確認済みにする", "assign_to_me": "自分に割り当て", "dismiss": "却下",
		"reopen": "再オープン", "reason_placeholder": "却下の理由（必須）", "history": "履歴",
		"done_alert.acknowledge": "確認済みにしました。", "done_alert.assign": "あなたに割り当てました。", "done_alert.dismiss": "却下しました。",
		"done_alert.reopen": "再オープンしました。", "done_unlocked": "口座のロックを解除しました。",
		"locked": "ロック中", "not_locked": "ロックなし", "unlock": "ロック解除", "unlock_reason": "本人確認の方法（必須）",
		"timeline": "タイムライン", "timeline_truncated": "直近 %s 件の判定を表示しています。", "event": "イベント", "details": "詳細",
		"decision": "判定", "alert": "アラート", "device": "端末", "no_events": "この口座の記録はありません。",
		"type_login": "ログイン", "type_order": "注文", "type_withdrawal": "出金", "type_profile_change": "登録情報の変更",
		"campaign_alerts": "キャンペーンのアラート", "campaign_on": "キャンペーン：", "under_way": "進行中", "found_at": "検知時刻",
		"hijacked_buys": "乗っ取り口座の買い", "beneficiary_sells": "受益口座の売り", "quotes_n": "気配 %d 件",
		"buys": "買い", "sells": "売り", "title_audit": "監査証跡", "title_watchlist": "ウォッチリスト", "nav_watchlist": "ウォッチリスト", "watchlist_off": "キャンペーン検知が無効のため、ウォッチリストはありません。", "watch_invalid": "登録内容が正しくありません。", "watch_active_only": "有効な項目のみ", "watch_show_all": "期限切れ・削除済みも表示", "done_watch_added": "ウォッチリストに追加しました。", "done_watch_removed": "ウォッチリストから削除しました。", "done_watch_pinned": "変更しました。", "watch_symbol": "銘柄", "watch_account": "口座", "watch_prefix": "アドレス帯", "watch_device": "端末", "watch_destination": "出金先", "watch_value": "値", "watch_pinned": "固定", "watch_add": "監視する", "watch_source": "登録元", "watch_added": "登録", "watch_expires": "期限", "watch_pin": "固定", "watch_unpin": "固定解除", "watch_remove": "削除", "watch_none": "ウォッチリストは空です。", "nav_audit": "監査", "audit_note": "職員のすべての操作を、実行前に記録しています（古い順）。", "audit_target": "対象", "audit_action": "操作", "audit_actor": "実行者", "audit_none": "記録はありません。", "later": "新しい記録", "market_order": "成行", "none": "なし", "chart_price": "株価（円）", "chart_volume": "出来高",
		"title_held": "保留中の注文・出金", "nav_held": "保留", "held_note": "エンジンが保留した注文と出金です。受け付け済みで、顧客の確認またはアナリストの解除まで執行しません（新しい順）。", "held_state": "状態", "held_held": "保留中", "held_released": "解除済み", "held_cancelled": "取消済み", "held_release": "解除", "held_cancel": "取消", "held_none": "保留中の項目はありません。", "held_by": "実行者", "held_stepup": "追加認証", "held_unresolved_only": "保留中のみ", "held_show_all": "解除・取消済みも表示", "done_held_released": "解除しました。執行に回ります。", "done_held_cancelled": "取り消しました。執行されません。", "held_conflict": "この項目はすでに保留中ではないか、別の方法で処理されています。", "held_invalid": "入力が正しくありません。", "held_off": "このサーバーでは保留項目を扱えません。",
	},
}

// tr returns the message key in lang, formatted with args.
func tr(lang, key string, args ...any) string {
	m, ok := messages[lang][key]
	if !ok {
		if m, ok = messages["en"][key]; !ok {
			m = key
		}
	}
	if len(args) > 0 {
		return fmt.Sprintf(m, args...)
	}
	return m
}

// reasons are the words for the reason codes analysts see most; a code without words shows as the
// code itself, beside its detail.
var reasons = map[string][2]string{
	"MARKET_RAMP":                  {"The stock's price and volume are ramping", "株価と出来高が急騰"},
	"WATCHED_INFRASTRUCTURE":       {"Watched address or device", "監視対象のアドレス／端末"},
	"WATCHED_SYMBOL":               {"Watched symbol", "監視対象の銘柄"},
	"WATCHED_ACCOUNT":              {"Watched account", "監視対象の口座"},
	"SESSION_UNKNOWN":              {"Unknown session", "不明なセッション"},
	"NEW_DEVICE":                   {"New device", "新しい端末"},
	"UA_TLS_MISMATCH":              {"TLS client does not match the browser", "TLS クライアントとブラウザが不一致"},
	"NEW_NETWORK":                  {"New network", "新しいネットワーク"},
	"NEW_ASN":                      {"New network operator", "新しい通信事業者"},
	"HERDING_ILLIQUID_BUY":         {"Several accounts buying one thin stock", "複数口座が同じ低流動性銘柄を購入"},
	"WITHDRAWAL_AFTER_LIQUIDATION": {"Withdrawal after selling holdings", "保有株売却後の出金"},
	"WEAKER_METHOD_THAN_USUAL":     {"Weaker sign-in method than usual", "普段より弱い認証方式"},
	"VPN_ASN":                      {"VPN network", "VPN のネットワーク"},
	"UNUSUAL_HOUR":                 {"Unusual hour", "普段と異なる時間帯"},
	"THIN_SYMBOL":                  {"Thinly traded stock", "低流動性銘柄"},
	"SHARES_INFRASTRUCTURE_WITH_REPORTED_ACCOUNT": {"Shares infrastructure with a reported account", "不正申告口座とインフラを共有"},
	"SHARED_INFRASTRUCTURE":                       {"Shared infrastructure", "共有インフラ"},
	"SESSION_TLS_CHANGED":                         {"TLS client changed within the session", "セッション中に TLS クライアントが変化"},
	"SESSION_NETWORK_CHANGED":                     {"Network changed within the session", "セッション中にネットワークが変化"},
	"SESSION_DEVICE_CHANGED":                      {"Device changed within the session", "セッション中に端末が変化"},
	"SESSION_ADDRESS_CHANGED":                     {"Address changed within the session", "セッション中にアドレスが変化"},
	"SENSITIVE_CHANGE":                            {"Sensitive account change", "重要な登録情報の変更"},
	"SELL_FROM_UNFAMILIAR_ACCESS_DURING_CAMPAIGN": {"Sell from unfamiliar access during a campaign", "キャンペーン中の見慣れない環境からの売り"},
	"SELL_AFTER_ACCOUNT_CHANGE":                   {"Sell right after an account change", "登録情報変更直後の売り"},
	"SELLS_INTO_CAMPAIGN":                         {"Sells into the campaign", "キャンペーンに乗じた売り抜け"},
	"RUSH_ORDERS":                                 {"Orders in a rush", "短時間に集中した注文"},
	"PHISHABLE_LOGIN_FROM_NEW_ADDRESS":            {"Phishable login from a new address", "新しいアドレスからのフィッシング可能な認証"},
	"ORDER_SIZE_OUTLIER":                          {"Unusually large order", "普段より大きな注文"},
	"NO_DEVICE_ID":                                {"No device id", "端末 ID なし"},
	"NOTIFICATIONS_OFF":                           {"Notifications turned off", "通知の停止"},
	"NEW_WITHDRAWAL_DESTINATION":                  {"New withdrawal destination", "新しい出金先"},
	"NEW_USER_AGENT":                              {"New browser", "新しいブラウザ"},
	"NEW_TLS_FINGERPRINT":                         {"New TLS client", "新しい TLS クライアント"},
	"NEW_COUNTRY":                                 {"New country", "新しい国"},
	"MFA_DOWNGRADE":                               {"Two-factor authentication weakened", "二要素認証の弱体化"},
	"LOGIN_DURING_STUFFING_WAVE":                  {"Login during a credential-stuffing wave", "リスト型攻撃の最中のログイン"},
	"LIQUIDATION":                                 {"Holdings sold off", "保有株の一斉売却"},
	"IMPOSSIBLE_TRAVEL":                           {"Impossible travel", "移動不可能な位置変化"},
	"ILLIQUID_SYMBOL":                             {"Illiquid stock", "低流動性銘柄"},
	"HOSTING_ASN":                                 {"Hosting network", "ホスティング事業者のネットワーク"},
	"FRAUD_REPORTED":                              {"Customer reported fraud", "顧客から不正の申告"},
	"FIRST_TIME_SYMBOL":                           {"First trade in this stock", "初めて取引する銘柄"},
	"FIRST_MARGIN_USE":                            {"First use of margin", "初めての信用取引"},
	"FAILED_LOGINS_BEFORE":                        {"Failed logins before", "直前のログイン失敗"},
	"EMAIL_CHANGED_RECENTLY":                      {"Email changed recently", "最近メールアドレスを変更"},
	"DORMANT_REACTIVATED":                         {"Dormant account active again", "休眠口座の再稼働"},
	"DEVICE_SHARED_ACROSS_ACCOUNTS":               {"Device shared with other accounts", "他の口座と共有の端末"},
	"DESTINATION_SHARED_ACROSS_ACCOUNTS":          {"Payee shared with other accounts", "他の口座と共有の出金先"},
	"CREDENTIAL_STUFFING_WAVE":                    {"Credential-stuffing wave", "リスト型攻撃の波"},
	"CAMPAIGN_UNDER_WAY":                          {"A campaign is under way", "キャンペーン進行中"},
	"BANK_ACCOUNT_CHANGED_RECENTLY":               {"Bank account changed recently", "最近出金口座を変更"},
	"ADDRESS_SHARED_ACROSS_ACCOUNTS":              {"Address shared with other accounts", "他の口座と共有のアドレス"},
	"ACCOUNT_LOCKED":                              {"Account locked", "口座ロック中"},
	"BANK_ACCOUNT_CHANGE_UNFAMILIAR":              {"Bank account changed from unfamiliar access", "見慣れない環境からの出金口座変更"},
	"CONTACT_CHANGE_UNFAMILIAR_ACCESS":            {"Contact details changed from unfamiliar access", "見慣れない環境からの連絡先変更"},
	"FIRST_MARGIN_ON_ILLIQUID":                    {"First margin trade, in a thin stock", "低流動性銘柄での初めての信用取引"},
	"HOSTING_ABROAD":                              {"Hosting network abroad", "海外のホスティング事業者"},
	"LIQUIDATE_THEN_BUY_ILLIQUID":                 {"Sold holdings, then bought a thin stock", "保有株を売却後に低流動性銘柄を購入"},
	"LOGIN_FROM_SUSPECT_INFRASTRUCTURE":           {"Login from suspect infrastructure", "不審なインフラからのログイン"},
	"MFA_REMOVED":                                 {"Two-factor authentication removed", "二要素認証の解除"},
	"NEW_PAYEE_AFTER_CHANGES":                     {"New payee after account changes", "登録情報変更後の新しい出金先"},
	"NOTICES_OFF_UNFAMILIAR_ACCESS":               {"Notices turned off from unfamiliar access", "見慣れない環境からの通知停止"},
	"REQUEST_FROM_SUSPECT_INFRASTRUCTURE":         {"Request from suspect infrastructure", "不審なインフラからの操作"},
	"WATCHED_ACCOUNT_UNFAMILIAR_ACCESS":           {"Watched account, unfamiliar access", "監視対象口座への見慣れないアクセス"},
	"WATCHED_SYMBOL_TAKEOVER_SIGNS":               {"Buy of a watched stock with takeover signs", "乗っ取りの兆候を伴う監視銘柄の購入"},
	"UNFAMILIAR_ACCESS_THEN_HARMFUL_ACTION":       {"Unfamiliar access, then a harmful action", "見慣れない環境からの有害な操作"},
	"CHANGES_THEN_MONEY_OUT":                      {"Account changes, then money out", "登録情報変更後の資金流出"},
	"SESSION_MOVED_TO_ANOTHER_CLIENT":             {"Session moved to another client", "セッションが別のクライアントに移動"},
	"COPIED_CLIENT_FROM_NEW_ADDRESS":              {"Copied client from a new address", "新しいアドレスからの複製クライアント"},
	"NEW_DEVICE_ON_NEW_NETWORK":                   {"New device on a new network", "新しいネットワーク上の新しい端末"},
	"TAKEOVER_SIGNS_INTO_CAMPAIGN":                {"Takeover signs, buying into a campaign", "乗っ取りの兆候とキャンペーン銘柄の購入"},
	"DEVICELESS_SESSION_ACCOUNT_CHANGES":          {"Account changes in a session that never sent a device id", "端末IDを一度も送らないセッションでの登録情報変更"},
	"HIJACKED_HERD":                               {"Taken-over accounts pouring holdings into one thin stock", "乗っ取られた複数口座が保有株を同じ低流動性銘柄に集中"},
	"LOOKALIKE_DOMAIN":                            {"A site imitating the firm", "当社を装うサイト"},
}

// reasonWords returns the words for a reason code in lang, or the code.
func reasonWords(lang, code string) string {
	w, ok := reasons[code]
	if !ok {
		return strings.ReplaceAll(strings.ToLower(code), "_", " ")
	}
	if lang == "ja" {
		return w[1]
	}
	return w[0]
}
