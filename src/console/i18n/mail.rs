//! The messages of the console's mail actions: a pickup link sent by mail.

/// English.
pub static EN: &[(&str, &str)] = &[
    ("ppl.create_pickup_mail", "Send a pickup link by e-mail"),
    ("ppl.mailed_to", "Sent to"),
    (
        "ppl.mailed_notice",
        "The pickup link is queued for mail to the person's address; only the recipient sees it.",
    ),
];

/// Japanese.
pub static JA: &[(&str, &str)] = &[
    ("ppl.create_pickup_mail", "受け取りリンクをメールで送る"),
    ("ppl.mailed_to", "送信先"),
    (
        "ppl.mailed_notice",
        "受け取りリンクを本人のメールアドレス宛に送信待ちにしました。リンクは受信者にだけ表示されます。",
    ),
];
