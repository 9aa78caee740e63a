//! The console's languages: one message catalogue per language, keyed by message id, the
//! language a browser asks for (`Accept-Language`, RFC 9110 §12.5.4) and dates written the way
//! each language writes them. Every string a page shows comes from here.

/// A language the console speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Japanese.
    Ja,
    /// English: the answer when a browser asks for neither.
    En,
}

impl Lang {
    /// Every language, in the order the switcher lists them.
    pub const ALL: [Lang; 2] = [Lang::Ja, Lang::En];

    /// The BCP 47 tag, as `<html lang>` and forms carry it.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// The language tagged `code` (`ja`, `en`), if the console speaks it.
    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }

    /// The language's own name, as the switcher shows it (in that language, so a reader who
    /// cannot read the current page still finds theirs).
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::Ja => "日本語",
            Lang::En => "English",
        }
    }

    /// The language `Accept-Language` prefers most among those spoken (ties: the first
    /// listed); English without the header or without a match.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let mut best: Option<(u32, Lang)> = None;
        for item in header.unwrap_or("").split(',').take(32) {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let primary = tag.split('-').next().unwrap_or("").to_ascii_lowercase();
            let Some(lang) = Lang::from_code(&primary) else {
                continue;
            };
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(parse_q)
                .unwrap_or(1000);
            if q > 0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    /// The catalogue of the language.
    fn catalogue(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Lang::Ja => JA,
            Lang::En => EN,
        }
    }

    /// The message `key` in this language; the key itself if the catalogue lacks it (a unit
    /// test keeps both catalogues complete, so this shows a bug instead of hiding it).
    pub fn t(self, key: &'static str) -> &'static str {
        self.catalogue()
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(key, |(_, v)| v)
    }

    /// A day (unix seconds) written short, as this language writes it, in UTC: `12月3日`,
    /// `3 Dec`.
    pub fn format_day(self, unix: i64) -> String {
        let Ok(t) = time::OffsetDateTime::from_unix_timestamp(unix) else {
            return "-".into();
        };
        let (m, d) = (u8::from(t.month()), t.day());
        match self {
            Lang::Ja => format!("{m}月{d}日"),
            Lang::En => {
                const MONTHS: [&str; 12] = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec",
                ];
                format!("{d} {}", MONTHS[usize::from(m.saturating_sub(1)) % 12])
            }
        }
    }

    /// A time (unix seconds) written as this language writes it, in UTC:
    /// `2026年12月3日 17:00 UTC`, `3 Dec 2026 17:00 UTC`.
    pub fn format_time(self, unix: i64) -> String {
        let Ok(t) = time::OffsetDateTime::from_unix_timestamp(unix) else {
            return "-".into();
        };
        let (y, m, d, hh, mm) = (t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute());
        match self {
            Lang::Ja => format!("{y}年{m}月{d}日 {hh:02}:{mm:02} UTC"),
            Lang::En => {
                const MONTHS: [&str; 12] = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec",
                ];
                let name = MONTHS[usize::from(m.saturating_sub(1)) % 12];
                format!("{d} {name} {y} {hh:02}:{mm:02} UTC")
            }
        }
    }
}

/// A quality value (`1`, `0.8`, `0.125`) in thousandths; `None` if it is not one.
fn parse_q(s: &str) -> Option<u32> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u32 = match int {
        "0" => 0,
        "1" => 1,
        _ => return None,
    };
    let mut thousandths = 0;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u32::from(b - b'0') * [100, 10, 1][i];
    }
    Some((whole * 1000 + thousandths).min(1000))
}

/// English.
static EN: &[(&str, &str)] = &[
    ("app.name", "enrolld console"),
    ("nav.label", "Main"),
    ("nav.dashboard", "Dashboard"),
    ("nav.people", "People & devices"),
    ("nav.approvals", "Approvals"),
    ("nav.certificates", "Certificates"),
    ("nav.audit", "Audit log"),
    ("nav.tokens", "Tokens"),
    ("nav.ca", "CA"),
    ("lang.label", "Language"),
    ("lang.switch", "Switch"),
    ("session.signed_in_as", "Signed in as"),
    ("session.scopes", "Scopes"),
    ("session.sign_out", "Sign out"),
    ("signin.title", "Sign in"),
    ("signin.intro", "Enter an admin token. The console keeps a session; the token itself is not stored in your browser."),
    ("signin.token", "Admin token"),
    ("signin.submit", "Sign in"),
    ("signin.failed", "The token was not accepted."),
    ("signin.throttled", "Too many failed sign-ins. Wait a while and try again."),
    ("signin.expired", "Your session has ended. Please sign in again."),
    ("dash.title", "Dashboard"),
    ("dash.as_of", "Figures as of"),
    ("dash.by_status", "Certificates by status"),
    ("dash.status", "Status"),
    ("dash.count", "Count"),
    ("status.valid", "Valid"),
    ("status.expired", "Expired"),
    ("status.revoked", "Revoked"),
    ("status.on_hold", "On hold"),
    ("dash.expiring", "Valid certificates expiring"),
    ("dash.window", "Within"),
    ("window.7d", "7 days"),
    ("window.30d", "30 days"),
    ("window.90d", "90 days"),
    ("dash.pending", "Approvals waiting"),
    ("dash.issued", "Certificates issued since the server started, by channel"),
    ("dash.channel", "Channel"),
    ("dash.none_issued", "None yet."),
    ("dash.charts", "Charts"),
    ("dash.charts_pending", "A chart of issuance per day by channel will appear here."),
    ("chart.expiry.title", "Valid certificates expiring per week, next 13 weeks"),
    ("chart.expiry.desc", "Column chart: one column per week from today, its height and the number above it the count of valid certificates whose validity ends that week."),
    ("chart.expiry.weeks", "Week starting"),
    ("chart.status.title", "Certificates by status"),
    ("chart.status.desc", "Bar chart: one bar per status, its length and the number after it the count of certificates."),
    ("dash.actions", "Actions"),
    ("action.register", "Register a person or device"),
    ("action.approvals", "Review waiting approvals"),
    ("action.revoke", "Find and revoke a certificate"),
    ("ca.title", "Certificate authority"),
    ("ca.certs", "CA certificates"),
    ("ca.issuing", "Issuing CA certificate"),
    ("ca.root", "Root CA certificate"),
    ("ca.download", "Download"),
    ("ca.published", "Published at"),
    ("ca.crls", "Certificate revocation lists"),
    ("ca.crl_issuing", "CRL of the issuing CA"),
    ("ca.crl_root", "CRL of the root CA"),
    ("ca.ocsp", "OCSP responder"),
    ("ca.this_update", "Current CRL made"),
    ("ca.next_update", "Next CRL update"),
    ("ca.crl_unavailable", "The CRL could not be made; see the server log."),
    ("audit.title", "Audit log"),
    ("audit.order", "Entries oldest first, 100 per page: the log is a chain read forward from its first entry, so a page never changes while new entries arrive."),
    ("audit.verify", "Verify the chain"),
    ("audit.filter.action", "Action starts with"),
    ("audit.filter.actor", "Actor starts with"),
    ("audit.filter.apply", "Filter"),
    ("audit.filter.hint", "Examples: action “token.”, actor “token:” or “est:”. One page looks through at most 5,000 entries."),
    ("audit.none", "No entries on this page."),
    ("audit.caption", "Audit entries"),
    ("audit.seq", "No."),
    ("audit.time", "Time"),
    ("audit.actor", "Actor"),
    ("audit.action", "Action"),
    ("audit.target", "Target"),
    ("audit.outcome", "Outcome"),
    ("audit.detail", "Detail"),
    ("audit.scan_limited", "This page stopped after looking through 5,000 entries; more may match further on."),
    ("audit.first", "First page"),
    ("audit.next", "Next page"),
    ("verify.title", "Audit chain verification"),
    ("verify.ok", "The chain is intact: every entry is linked to the one before, the head matches and every signed checkpoint is valid."),
    ("verify.entries", "Entries checked"),
    ("verify.checkpoints", "Signed checkpoints verified"),
    ("verify.last_checkpoint", "Newest checkpoint covers entry"),
    ("verify.never", "Never"),
    ("verify.signed_at", "Newest checkpoint signed"),
    ("verify.unsigned", "Entries after it, not yet signed"),
    ("verify.key_id", "Signing key"),
    ("verify.failed", "Verification failed: the audit log has been altered or is incomplete."),
    ("verify.reason", "First problem found"),
    ("verify.back", "Back to the audit log"),
    ("tokens.title", "Admin tokens"),
    ("tokens.admin_only", "Only a token with the admin scope can see and manage tokens."),
    ("tokens.created", "Token created"),
    ("tokens.shown_once", "Copy this token now. It is shown only this once; the server keeps only a hash of it."),
    ("tokens.id", "ID"),
    ("tokens.token", "Token"),
    ("tokens.revoked", "The token was revoked. Anything using it is refused from now on."),
    ("tokens.invalid", "The token was not created: give a name (up to 128 characters), at least one scope, and an expiry of 1 to 3650 days or none."),
    ("tokens.create", "Create a token"),
    ("tokens.name", "Name"),
    ("tokens.scopes", "Scopes"),
    ("tokens.days", "Expires after (days)"),
    ("tokens.days_hint", "Leave empty for a token that does not expire."),
    ("tokens.submit", "Create"),
    ("tokens.list", "Tokens"),
    ("tokens.none", "No tokens."),
    ("tokens.expires", "Expires"),
    ("tokens.created_at", "Created"),
    ("tokens.actions", "Actions"),
    ("tokens.never", "Never"),
    ("tokens.this_session", "this session"),
    ("tokens.revoke", "Revoke…"),
    ("tokens.confirm_title", "Revoke a token"),
    ("tokens.confirm", "Revoke this token? Everything that uses it is refused at once, and this cannot be undone."),
    ("tokens.confirm_own", "This is the token of your session: you will be signed out."),
    ("tokens.confirm_yes", "Revoke the token"),
    ("tokens.cancel", "Cancel"),
    ("scope.read", "Read (read)"),
    ("scope.register", "Register (register)"),
    ("scope.issue", "Issue (issue)"),
    ("scope.revoke", "Revoke (revoke)"),
    ("scope.admin", "Administer (admin)"),
    ("scope.unknown", "Unknown scope"),
    ("list.separator", ", "),
    ("error.title", "Something went wrong"),
    ("error.forbidden", "This request was refused."),
    ("error.not_found", "There is no such page."),
    ("error.internal", "The server could not answer; see its log."),
    ("appr.title", "Approvals"),
    ("appr.show", "Show"),
    ("appr.status.pending", "Waiting"),
    ("appr.status.approved", "Approved"),
    ("appr.status.rejected", "Rejected"),
    ("appr.none", "No requests."),
    ("appr.cn", "Common name"),
    ("appr.sans", "Alternative names"),
    ("appr.fingerprint", "CSR fingerprint"),
    ("appr.profile", "Profile"),
    ("appr.subject", "Person or device"),
    ("appr.requested", "Requested"),
    ("appr.decided", "Decided"),
    ("appr.decision", "Decision"),
    ("appr.approve", "Approve"),
    ("appr.reject", "Reject"),
    ("appr.done.approved", "The request was approved: the client's next retry gets its certificate."),
    ("appr.done.rejected", "The request was rejected: the client's next retry is refused."),
    ("appr.done.conflict", "The request had already been decided."),
    ("common.none", "None"),
    ("common.apply", "Filter"),
    ("cert.title", "Certificates"),
    ("cert.filters", "Filters"),
    ("cert.status", "Status"),
    ("cert.any", "Any"),
    ("cert.good", "Valid"),
    ("cert.revoked", "Revoked"),
    ("cert.profile", "Profile"),
    ("cert.channel", "Channel"),
    ("cert.expiring_before", "Expiring before (YYYY-MM-DD)"),
    ("cert.serial", "Serial"),
    ("cert.subject", "Subject (CN)"),
    ("cert.not_after", "Not after"),
    ("cert.not_before", "Not before"),
    ("cert.none", "No certificate matches."),
    ("cert.next", "Next page"),
    ("cert.first", "First page"),
    ("cert.detail", "Certificate"),
    ("cert.sans", "Alternative names"),
    ("cert.issuer", "Issuer"),
    ("cert.issued_at", "Issued"),
    ("cert.label", "EST label"),
    ("cert.credential", "Credential"),
    ("cert.replaces", "Renews"),
    ("cert.subject_id", "Person or device"),
    ("cert.revoked_at", "Revoked at"),
    ("cert.reason", "Reason"),
    ("cert.download", "Download (PEM)"),
    ("cert.revoke_heading", "Revoke this certificate"),
    ("cert.revoke", "Revoke"),
    ("cert.done.revoked", "The certificate was revoked."),
    ("reason.unspecified", "Unspecified"),
    ("reason.keyCompromise", "Key compromise"),
    ("reason.affiliationChanged", "Affiliation changed"),
    ("reason.superseded", "Superseded"),
    ("reason.cessationOfOperation", "Cessation of operation"),
    ("reason.certificateHold", "Certificate hold (suspension)"),
    ("reason.privilegeWithdrawn", "Privilege withdrawn"),    ("ppl.title", "People & devices"),
    ("ppl.filters", "Filters"),
    ("ppl.search", "Search"),
    ("ppl.kind", "Kind"),
    ("ppl.any", "Any"),
    ("ppl.person", "Person"),
    ("ppl.device", "Device"),
    ("ppl.status", "Status"),
    ("ppl.active", "Active"),
    ("ppl.suspended", "Suspended"),
    ("ppl.offboarded", "Off-boarded"),
    ("ppl.department", "Department"),
    ("ppl.name", "Name"),
    ("ppl.external_id", "External id"),
    ("ppl.email", "E-mail address"),
    ("ppl.serial_number", "Serial number"),
    ("ppl.owner", "Owner"),
    ("ppl.dns_names", "DNS names"),
    ("ppl.id", "Id"),
    ("ppl.none", "No people or devices match."),
    ("ppl.next", "Next page"),
    ("ppl.first", "First page"),
    ("ppl.certificates", "Certificates"),
    ("ppl.est_credentials", "EST credentials"),
    ("ppl.scep_challenges", "SCEP challenges"),
    ("ppl.eab_keys", "EAB keys"),
    ("ppl.create_heading", "Create an enrolment credential"),
    ("ppl.create_est", "Create an EST credential"),
    ("ppl.create_scep", "Create a SCEP challenge"),
    ("ppl.create_pickup", "Create a pickup link"),
    ("ppl.status_heading", "Change status"),
    ("ppl.suspend", "Suspend"),
    ("ppl.reactivate", "Reactivate"),
    ("ppl.offboard", "Off-board…"),
    ("ppl.offboard_title", "Off-board this subject?"),
    ("ppl.offboard_warning", "Off-boarding is final. It revokes and disables:"),
    ("ppl.offboard_certs", "Good certificates to revoke"),
    ("ppl.offboard_creds", "Credentials to disable"),
    ("ppl.offboard_eabs", "EAB keys to withdraw"),
    ("ppl.offboard_confirm", "Off-board now"),
    ("ppl.cancel", "Cancel"),
    ("ppl.secret_title", "Credential created"),
    ("ppl.secret_once", "This is shown only once: copy it now."),
    ("ppl.username", "User name"),
    ("ppl.password", "Password"),
    ("ppl.challenge", "Challenge"),
    ("ppl.url", "Address"),
    ("ppl.expires", "Expires"),
    ("ppl.back", "Back to the subject"),
    ("ppl.done.suspended", "The subject was suspended."),
    ("ppl.done.active", "The subject was reactivated."),
    ("ppl.done.offboarded", "The subject was off-boarded."),
];

/// Japanese.
static JA: &[(&str, &str)] = &[
    ("app.name", "enrolld 管理コンソール"),
    ("nav.label", "メインメニュー"),
    ("nav.dashboard", "ダッシュボード"),
    ("nav.people", "利用者と端末"),
    ("nav.approvals", "承認待ち"),
    ("nav.certificates", "証明書"),
    ("nav.audit", "監査ログ"),
    ("nav.tokens", "トークン"),
    ("nav.ca", "認証局"),
    ("lang.label", "表示言語"),
    ("lang.switch", "切り替え"),
    ("session.signed_in_as", "サインイン中のトークン"),
    ("session.scopes", "権限"),
    ("session.sign_out", "サインアウト"),
    ("signin.title", "サインイン"),
    ("signin.intro", "管理トークンを入力してください。コンソールはセッションを保持し、トークン自体はブラウザーに保存しません。"),
    ("signin.token", "管理トークン"),
    ("signin.submit", "サインイン"),
    ("signin.failed", "トークンを確認できませんでした。"),
    ("signin.throttled", "サインインの失敗が続いています。しばらく待ってから再度お試しください。"),
    ("signin.expired", "セッションが終了しました。もう一度サインインしてください。"),
    ("dash.title", "ダッシュボード"),
    ("dash.as_of", "集計時刻"),
    ("dash.by_status", "状態別の証明書数"),
    ("dash.status", "状態"),
    ("dash.count", "件数"),
    ("status.valid", "有効"),
    ("status.expired", "期限切れ"),
    ("status.revoked", "失効"),
    ("status.on_hold", "保留中"),
    ("dash.expiring", "有効期限が近い証明書"),
    ("dash.window", "期間"),
    ("window.7d", "7日以内"),
    ("window.30d", "30日以内"),
    ("window.90d", "90日以内"),
    ("dash.pending", "承認待ちの申請"),
    ("dash.issued", "サーバー起動後に発行した証明書（経路別）"),
    ("dash.channel", "経路"),
    ("dash.none_issued", "まだありません。"),
    ("dash.charts", "グラフ"),
    ("dash.charts_pending", "経路別の日ごとの発行数のグラフをここに表示します。"),
    ("chart.expiry.title", "今後13週間に有効期限を迎える証明書（週別）"),
    ("chart.expiry.desc", "縦棒グラフ：今日から1週間ごとに1本。棒の高さと上の数字は、その週に有効期限を迎える有効な証明書の数です。"),
    ("chart.expiry.weeks", "週の初日"),
    ("chart.status.title", "状態別の証明書数"),
    ("chart.status.desc", "横棒グラフ：状態ごとに1本。棒の長さと右の数字は証明書の数です。"),
    ("dash.actions", "操作"),
    ("action.register", "利用者・端末を登録する"),
    ("action.approvals", "承認待ちの申請を確認する"),
    ("action.revoke", "証明書を検索して失効する"),
    ("ca.title", "認証局"),
    ("ca.certs", "認証局の証明書"),
    ("ca.issuing", "発行用中間認証局の証明書"),
    ("ca.root", "ルート認証局の証明書"),
    ("ca.download", "ダウンロード"),
    ("ca.published", "公開先"),
    ("ca.crls", "証明書失効リスト（CRL）"),
    ("ca.crl_issuing", "中間認証局の失効リスト"),
    ("ca.crl_root", "ルート認証局の失効リスト"),
    ("ca.ocsp", "OCSP レスポンダー"),
    ("ca.this_update", "現在の失効リストの作成時刻"),
    ("ca.next_update", "次回の失効リスト更新"),
    ("ca.crl_unavailable", "失効リストを作成できませんでした。サーバーのログを確認してください。"),
    ("audit.title", "監査ログ"),
    ("audit.order", "古い順に1ページ100件を表示します。ログは最初の記録から順につながった連鎖なので、新しい記録が増えてもページの内容は変わりません。"),
    ("audit.verify", "連鎖を検証する"),
    ("audit.filter.action", "操作（前方一致）"),
    ("audit.filter.actor", "実行者（前方一致）"),
    ("audit.filter.apply", "絞り込む"),
    ("audit.filter.hint", "例：操作「token.」、実行者「token:」や「est:」。1ページにつき最大5,000件を調べます。"),
    ("audit.none", "このページに該当する記録はありません。"),
    ("audit.caption", "監査記録"),
    ("audit.seq", "番号"),
    ("audit.time", "日時"),
    ("audit.actor", "実行者"),
    ("audit.action", "操作"),
    ("audit.target", "対象"),
    ("audit.outcome", "結果"),
    ("audit.detail", "詳細"),
    ("audit.scan_limited", "5,000件を調べた時点でこのページを区切りました。この先にも該当する記録があるかもしれません。"),
    ("audit.first", "最初のページ"),
    ("audit.next", "次のページ"),
    ("verify.title", "監査ログの連鎖の検証"),
    ("verify.ok", "連鎖は正常です。すべての記録が直前の記録とつながり、末尾が一致し、署名付きチェックポイントもすべて有効です。"),
    ("verify.entries", "検証した記録数"),
    ("verify.checkpoints", "検証した署名付きチェックポイント数"),
    ("verify.last_checkpoint", "最新のチェックポイントが対象とする記録番号"),
    ("verify.never", "なし"),
    ("verify.signed_at", "最新のチェックポイントの署名日時"),
    ("verify.unsigned", "その後のまだ署名されていない記録数"),
    ("verify.key_id", "署名鍵"),
    ("verify.failed", "検証に失敗しました。監査ログが改ざんされているか、欠けています。"),
    ("verify.reason", "最初に見つかった問題"),
    ("verify.back", "監査ログに戻る"),
    ("tokens.title", "管理トークン"),
    ("tokens.admin_only", "トークンの表示と管理は admin 権限を持つトークンだけが行えます。"),
    ("tokens.created", "トークンを作成しました"),
    ("tokens.shown_once", "このトークンを今すぐ控えてください。表示はこの一度だけで、サーバーはハッシュ値しか保存しません。"),
    ("tokens.id", "識別子"),
    ("tokens.token", "トークン"),
    ("tokens.revoked", "トークンを失効しました。今後このトークンを使った要求はすべて拒否されます。"),
    ("tokens.invalid", "トークンを作成できませんでした。名前（128文字以内）、1つ以上の権限、有効日数（1〜3650日、または空欄）を指定してください。"),
    ("tokens.create", "トークンを作成する"),
    ("tokens.name", "名前"),
    ("tokens.scopes", "権限"),
    ("tokens.days", "有効日数"),
    ("tokens.days_hint", "空欄にすると期限のないトークンになります。"),
    ("tokens.submit", "作成"),
    ("tokens.list", "トークン一覧"),
    ("tokens.none", "トークンはありません。"),
    ("tokens.expires", "有効期限"),
    ("tokens.created_at", "作成日時"),
    ("tokens.actions", "操作"),
    ("tokens.never", "無期限"),
    ("tokens.this_session", "このセッション"),
    ("tokens.revoke", "失効…"),
    ("tokens.confirm_title", "トークンの失効"),
    ("tokens.confirm", "このトークンを失効しますか？このトークンを使った要求はただちに拒否され、元に戻せません。"),
    ("tokens.confirm_own", "これは現在のセッションのトークンです。失効するとサインアウトします。"),
    ("tokens.confirm_yes", "トークンを失効する"),
    ("tokens.cancel", "キャンセル"),
    ("scope.read", "閲覧（read）"),
    ("scope.register", "登録（register）"),
    ("scope.issue", "発行（issue）"),
    ("scope.revoke", "失効（revoke）"),
    ("scope.admin", "管理者（admin）"),
    ("scope.unknown", "不明な権限"),
    ("list.separator", "、"),
    ("error.title", "エラーが発生しました"),
    ("error.forbidden", "この要求は拒否されました。"),
    ("error.not_found", "該当するページはありません。"),
    ("error.internal", "サーバーが応答できませんでした。ログを確認してください。"),
    ("appr.title", "承認"),
    ("appr.show", "表示する申請"),
    ("appr.status.pending", "承認待ち"),
    ("appr.status.approved", "承認済み"),
    ("appr.status.rejected", "却下済み"),
    ("appr.none", "該当する申請はありません。"),
    ("appr.cn", "コモンネーム（CN）"),
    ("appr.sans", "別名（SAN）"),
    ("appr.fingerprint", "CSR のフィンガープリント"),
    ("appr.profile", "プロファイル"),
    ("appr.subject", "利用者・端末"),
    ("appr.requested", "申請日時"),
    ("appr.decided", "判断日時"),
    ("appr.decision", "判断"),
    ("appr.approve", "承認する"),
    ("appr.reject", "却下する"),
    ("appr.done.approved", "申請を承認しました。クライアントが次に再試行すると証明書が発行されます。"),
    ("appr.done.rejected", "申請を却下しました。クライアントが次に再試行すると拒否されます。"),
    ("appr.done.conflict", "この申請はすでに判断済みです。"),
    ("common.none", "なし"),
    ("common.apply", "絞り込む"),
    ("cert.title", "証明書"),
    ("cert.filters", "絞り込み条件"),
    ("cert.status", "状態"),
    ("cert.any", "すべて"),
    ("cert.good", "有効"),
    ("cert.revoked", "失効"),
    ("cert.profile", "プロファイル"),
    ("cert.channel", "経路"),
    ("cert.expiring_before", "有効期限がこの日より前（YYYY-MM-DD）"),
    ("cert.serial", "シリアル番号"),
    ("cert.subject", "サブジェクト（CN）"),
    ("cert.not_after", "有効期限"),
    ("cert.not_before", "有効期間の開始"),
    ("cert.none", "該当する証明書はありません。"),
    ("cert.next", "次のページ"),
    ("cert.first", "最初のページ"),
    ("cert.detail", "証明書の詳細"),
    ("cert.sans", "別名（SAN）"),
    ("cert.issuer", "発行者"),
    ("cert.issued_at", "発行日時"),
    ("cert.label", "EST ラベル"),
    ("cert.credential", "認証情報"),
    ("cert.replaces", "更新元の証明書"),
    ("cert.subject_id", "利用者・端末"),
    ("cert.revoked_at", "失効日時"),
    ("cert.reason", "失効理由"),
    ("cert.download", "ダウンロード（PEM）"),
    ("cert.revoke_heading", "この証明書を失効する"),
    ("cert.revoke", "失効する"),
    ("cert.done.revoked", "証明書を失効しました。"),
    ("reason.unspecified", "理由の指定なし"),
    ("reason.keyCompromise", "秘密鍵の漏洩"),
    ("reason.affiliationChanged", "所属の変更"),
    ("reason.superseded", "新しい証明書への置き換え"),
    ("reason.cessationOfOperation", "利用の終了"),
    ("reason.certificateHold", "一時停止（保留）"),
    ("reason.privilegeWithdrawn", "権限の取り消し"),
    ("ppl.title", "利用者と端末"),
    ("ppl.filters", "絞り込み条件"),
    ("ppl.search", "検索"),
    ("ppl.kind", "種別"),
    ("ppl.any", "すべて"),
    ("ppl.person", "利用者"),
    ("ppl.device", "端末"),
    ("ppl.status", "状態"),
    ("ppl.active", "有効"),
    ("ppl.suspended", "一時停止中"),
    ("ppl.offboarded", "退役済み"),
    ("ppl.department", "部署"),
    ("ppl.name", "名前"),
    ("ppl.external_id", "外部識別子"),
    ("ppl.email", "メールアドレス"),
    ("ppl.serial_number", "製造番号"),
    ("ppl.owner", "所有者"),
    ("ppl.dns_names", "名前解決の名前"),
    ("ppl.id", "内部識別子"),
    ("ppl.none", "該当する利用者・端末はありません。"),
    ("ppl.next", "次のページ"),
    ("ppl.first", "最初のページ"),
    ("ppl.certificates", "証明書"),
    ("ppl.est_credentials", "登録用資格情報"),
    ("ppl.scep_challenges", "簡易登録用の合言葉"),
    ("ppl.eab_keys", "外部アカウント鍵"),
    ("ppl.create_heading", "登録用の資格情報を作る"),
    ("ppl.create_est", "登録用資格情報を作る"),
    ("ppl.create_scep", "簡易登録用の合言葉を作る"),
    ("ppl.create_pickup", "受け取り用リンクを作る"),
    ("ppl.status_heading", "状態を変える"),
    ("ppl.suspend", "一時停止する"),
    ("ppl.reactivate", "再開する"),
    ("ppl.offboard", "退役させる…"),
    ("ppl.offboard_title", "この対象を退役させますか？"),
    ("ppl.offboard_warning", "退役は取り消せません。次のものを失効・無効化します："),
    ("ppl.offboard_certs", "失効させる有効な証明書"),
    ("ppl.offboard_creds", "無効にする資格情報"),
    ("ppl.offboard_eabs", "取り下げる外部アカウント鍵"),
    ("ppl.offboard_confirm", "今すぐ退役させる"),
    ("ppl.cancel", "やめる"),
    ("ppl.secret_title", "資格情報を作りました"),
    ("ppl.secret_once", "この値は一度だけ表示されます。今すぐ控えてください。"),
    ("ppl.username", "利用者名"),
    ("ppl.password", "合言葉"),
    ("ppl.challenge", "合言葉"),
    ("ppl.url", "アドレス"),
    ("ppl.expires", "有効期限"),
    ("ppl.back", "対象のページへ戻る"),
    ("ppl.done.suspended", "対象を一時停止しました。"),
    ("ppl.done.active", "対象を再開しました。"),
    ("ppl.done.offboarded", "対象を退役させました。"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn both_catalogues_have_exactly_the_same_keys_once_each() {
        let keys = |c: &[(&str, &str)]| -> BTreeSet<String> {
            c.iter().map(|(k, _)| (*k).to_owned()).collect()
        };
        assert_eq!(keys(EN), keys(JA));
        assert_eq!(
            keys(EN).len(),
            EN.len(),
            "a key repeats in the English catalogue"
        );
        assert_eq!(
            keys(JA).len(),
            JA.len(),
            "a key repeats in the Japanese catalogue"
        );
    }

    #[test]
    fn no_japanese_message_is_left_in_english() {
        for (k, v) in JA {
            assert!(!v.is_ascii(), "{k}: {v:?} has no Japanese in it");
            assert_ne!(
                Some(*v),
                EN.iter().find(|(ek, _)| ek == k).map(|(_, e)| *e),
                "{k}"
            );
        }
    }

    #[test]
    fn accept_language_picks_the_preferred_spoken_language() {
        assert_eq!(Lang::from_accept_language(None), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("ja")), Lang::Ja);
        assert_eq!(
            Lang::from_accept_language(Some("ja-JP,ja;q=0.9,en;q=0.8")),
            Lang::Ja
        );
        assert_eq!(Lang::from_accept_language(Some("en-US,ja;q=0.5")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("fr, ja;q=0.3")), Lang::Ja);
        assert_eq!(Lang::from_accept_language(Some("ja;q=0, de")), Lang::En);
        assert_eq!(
            Lang::from_accept_language(Some("en;q=0.2,ja;q=0.7")),
            Lang::Ja
        );
        assert_eq!(Lang::from_accept_language(Some("ja;q=bogus")), Lang::Ja);
    }

    #[test]
    fn dates_are_written_per_language_in_utc() {
        // 2026-12-03 17:00:00 UTC.
        let t = 1_796_317_200;
        assert_eq!(Lang::Ja.format_time(t), "2026年12月3日 17:00 UTC");
        assert_eq!(Lang::En.format_time(t), "3 Dec 2026 17:00 UTC");
    }

    #[test]
    fn a_missing_key_shows_itself() {
        assert_eq!(Lang::En.t("no.such.key"), "no.such.key");
        assert_eq!(Lang::Ja.t("nav.ca"), "認証局");
    }
}
