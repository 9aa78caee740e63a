//! The messages of the page that registers one person or device.

/// English.
pub static EN: &[(&str, &str)] = &[
    ("reg.title", "Register a person or device"),
    ("reg.link", "Register a person or device"),
    (
        "reg.intro",
        "Registers one person or device, as the HR or MDM system does through the admin API. \
         Registering an external id that exists updates that record.",
    ),
    ("reg.kind", "Kind"),
    (
        "reg.external_id_hint",
        "The id in your HR or MDM system; required.",
    ),
    ("reg.person_fields", "Person"),
    ("reg.display_name", "Name"),
    ("reg.device_fields", "Device"),
    ("reg.device_name", "Device name"),
    (
        "reg.owner_hint",
        "The external id of the person who owns the device.",
    ),
    ("reg.dns_hint", "Separated by commas."),
    ("reg.windows", "Windows certificate mapping"),
    ("reg.windows_sid", "Account SID"),
    (
        "reg.windows_sid_hint",
        "S-1-5-21-…, for strong certificate mapping in Active Directory; optional.",
    ),
    ("reg.submit", "Register"),
    ("reg.refused", "The registration was refused:"),
    ("ppl.done.created", "The subject was registered."),
    ("ppl.done.updated", "The subject's record was updated."),
    (
        "ppl.done.unchanged",
        "The subject was already registered with these values.",
    ),
];

/// Japanese.
pub static JA: &[(&str, &str)] = &[
    ("reg.title", "利用者・端末の登録"),
    ("reg.link", "利用者・端末を登録する"),
    (
        "reg.intro",
        "利用者または端末を1件登録します（人事・MDMシステムが管理APIで行う登録と同じです）。既にある外部IDを登録すると、その記録を更新します。",
    ),
    ("reg.kind", "種別"),
    ("reg.external_id_hint", "人事・MDMシステムでのID（必須）。"),
    ("reg.person_fields", "利用者"),
    ("reg.display_name", "氏名"),
    ("reg.device_fields", "端末"),
    ("reg.device_name", "端末名"),
    ("reg.owner_hint", "端末を使う利用者の外部ID。"),
    ("reg.dns_hint", "カンマ区切り。"),
    ("reg.windows", "Windows 証明書マッピング"),
    ("reg.windows_sid", "アカウントのSID"),
    (
        "reg.windows_sid_hint",
        "S-1-5-21-…。Active Directory の強力な証明書マッピング用（任意）。",
    ),
    ("reg.submit", "登録する"),
    ("reg.refused", "登録できませんでした："),
    ("ppl.done.created", "登録しました。"),
    ("ppl.done.updated", "記録を更新しました。"),
    ("ppl.done.unchanged", "同じ内容で既に登録されています。"),
];
