//! The messages of the console's mail parts: a pickup link sent by mail, the outbox on the
//! dashboard.

/// English.
pub static EN: &[(&str, &str)] = &[
    (
        "imp.mail_links",
        "Send a pickup link by e-mail to every person imported (active, with an address)",
    ),
    ("imp.mailed", "Pickup link queued for mail."),
    ("imp.not_mailed", "No link mailed:"),
    ("dash.mail", "Mail"),
    ("dash.mail_queued", "Waiting to be sent"),
    ("dash.mail_failed", "Given up"),
    ("dash.mail_log", "Mail in the audit log"),
    ("ppl.create_pickup_mail", "Send a pickup link by e-mail"),
    ("ppl.mailed_to", "Sent to"),
    (
        "ppl.mailed_notice",
        "The pickup link is queued for mail to the person's address; only the recipient sees it.",
    ),
];

/// Japanese.
pub static JA: &[(&str, &str)] = &[
    (
        "imp.mail_links",
        "登録した利用者全員（有効でメールアドレスのある人）に受け取りリンクをメールで送る",
    ),
    ("imp.mailed", "受け取りリンクをメール送信待ちにしました。"),
    ("imp.not_mailed", "リンクは送っていません:"),
    ("dash.mail", "メール"),
    ("dash.mail_queued", "送信待ち"),
    ("dash.mail_failed", "送信を断念"),
    ("dash.mail_log", "監査ログのメール記録"),
    ("ppl.create_pickup_mail", "受け取りリンクをメールで送る"),
    ("ppl.mailed_to", "送信先"),
    (
        "ppl.mailed_notice",
        "受け取りリンクを本人のメールアドレス宛に送信待ちにしました。リンクは受信者にだけ表示されます。",
    ),
];
