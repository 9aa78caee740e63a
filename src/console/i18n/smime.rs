//! The messages for a person's verified names on the registration page, which
//! individual-validated S/MIME certificates carry (docs/smime.md).

/// English.
pub static EN: &[(&str, &str)] = &[
    ("smime.names", "Names in S/MIME certificates"),
    (
        "smime.names_hint",
        "As verified by HR: individual-validated S/MIME certificates carry them as givenName and \
         surname, or the pseudonym instead of both. Optional otherwise.",
    ),
    ("smime.given_name", "Given name"),
    ("smime.family_name", "Family name"),
    ("smime.pseudonym", "Pseudonym"),
];

/// Japanese.
pub static JA: &[(&str, &str)] = &[
    ("smime.names", "S/MIME 証明書に記載する氏名"),
    (
        "smime.names_hint",
        "人事部門が確認した氏名です。個人認証（individual）の S/MIME 証明書には名（givenName）と姓（surname）、\
         またはその代わりに仮名（pseudonym）が記載されます。それ以外の場合は任意です。",
    ),
    ("smime.given_name", "名"),
    ("smime.family_name", "姓"),
    ("smime.pseudonym", "仮名"),
];
