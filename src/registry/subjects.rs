//! People and devices: registration (single, bulk JSON, CSV), status changes (suspension with
//! certificateHold, off-boarding) and the credentials handed out per subject.

use serde::{Deserialize, Serialize};

use crate::ca::profile::SanName;
use crate::error::{Error, Result};
use crate::ids::{SubjectId, TokenId, WindowsSid};
use crate::states::SubjectStatus;
use crate::store::{CreateSubject, Store, SubjectRecord};

/// A person or device as the API receives it (`POST /api/v1/people`, `/devices`, bulk rows).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SubjectInput {
    /// `person` or `device` (implied by the endpoint; required in bulk rows).
    #[serde(default)]
    pub kind: Option<String>,
    /// The HR or MDM system's id.
    pub external_id: String,
    /// Person: mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Person: display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Person: department.
    #[serde(default)]
    pub department: Option<String>,
    /// Device: name.
    #[serde(default)]
    pub name: Option<String>,
    /// Device: serial number.
    #[serde(default)]
    pub serial_number: Option<String>,
    /// Device: owner's external id.
    #[serde(default)]
    pub owner: Option<String>,
    /// Device: DNS names.
    #[serde(default)]
    pub dns_names: Vec<String>,
    /// Device: MDM id.
    #[serde(default)]
    pub mdm_id: Option<String>,
    /// Person or device: the Active Directory account's SID (`S-1-5-21-…`), for Windows
    /// strong certificate mapping.
    #[serde(default)]
    pub windows_sid: Option<String>,
    /// The language mail to this subject is written in: `en` or `ja` (else `[mail] language`).
    #[serde(default)]
    pub language: Option<String>,
    /// Person: given name as HR verified it, for individual-validated S/MIME certificates
    /// (the certificate's givenName).
    #[serde(default)]
    pub given_name: Option<String>,
    /// Person: family name as HR verified it (the certificate's surname).
    #[serde(default)]
    pub family_name: Option<String>,
    /// Person: a pseudonym, used by individual-validated S/MIME certificates when neither
    /// name is given.
    #[serde(default)]
    pub pseudonym: Option<String>,
}

fn text(field: &str, v: &Option<String>, max: usize) -> Result<Option<String>> {
    match v {
        None => Ok(None),
        Some(s) => {
            let t = s.trim();
            if t.is_empty() {
                return Ok(None);
            }
            if t.len() > max || t.chars().any(char::is_control) {
                return Err(Error::Malformed(format!(
                    "{field} must be at most {max} printable characters"
                )));
            }
            Ok(Some(t.to_owned()))
        }
    }
}

/// Validates an input into the fields of a record (everything but ids, status and times).
pub fn validate(kind: &str, i: &SubjectInput) -> Result<SubjectRecord> {
    let ext = i.external_id.trim();
    if ext.is_empty() || ext.len() > 128 || ext.chars().any(char::is_control) {
        return Err(Error::Malformed(
            "external_id must be 1 to 128 printable characters".into(),
        ));
    }
    let mut r = SubjectRecord {
        version: 1,
        id: SubjectId::random()?,
        kind: kind.to_owned(),
        external_id: ext.to_owned(),
        email: None,
        display_name: text("display_name", &i.display_name, 64)?,
        department: text("department", &i.department, 128)?,
        name: text("name", &i.name, 64)?,
        serial_number: text("serial_number", &i.serial_number, 64)?,
        owner: text("owner", &i.owner, 128)?,
        dns_names: Vec::new(),
        mdm_id: text("mdm_id", &i.mdm_id, 128)?,
        windows_sid: text("windows_sid", &i.windows_sid, 200)?
            .map(|s| WindowsSid::parse(&s))
            .transpose()?,
        language: match text("language", &i.language, 8)?.as_deref() {
            None => None,
            Some(l @ ("en" | "ja")) => Some(l.to_owned()),
            Some(other) => {
                return Err(Error::Malformed(format!(
                    "language must be en or ja, not {other:?}"
                )))
            }
        },
        given_name: text("given_name", &i.given_name, 64)?,
        family_name: text("family_name", &i.family_name, 64)?,
        pseudonym: text("pseudonym", &i.pseudonym, 64)?,
        status: SubjectStatus::Active,
        generation: 0,
        created_at: 0,
        updated_at: 0,
    };
    match kind {
        "person" => {
            let email = text("email", &i.email, 254)?
                .ok_or_else(|| Error::Malformed("a person needs an email".into()))?;
            match SanName::parse(&format!("email:{email}")) {
                Ok(SanName::Email(e)) => r.email = Some(e),
                _ => return Err(Error::Malformed(format!("invalid email {email:?}"))),
            }
            if r.display_name.is_none() {
                return Err(Error::Malformed("a person needs a display_name".into()));
            }
            if r.pseudonym.is_some() && (r.given_name.is_some() || r.family_name.is_some()) {
                return Err(Error::Malformed(
                    "a pseudonym stands in for given_name and family_name: give one or the other"
                        .into(),
                ));
            }
            if !i.dns_names.is_empty() || i.serial_number.is_some() {
                return Err(Error::Malformed(
                    "dns_names and serial_number are device fields".into(),
                ));
            }
        }
        "device" => {
            if r.name.is_none() {
                return Err(Error::Malformed("a device needs a name".into()));
            }
            if i.email.is_some()
                || i.display_name.is_some()
                || r.given_name.is_some()
                || r.family_name.is_some()
                || r.pseudonym.is_some()
            {
                return Err(Error::Malformed(
                    "email, display_name, given_name, family_name and pseudonym are person fields"
                        .into(),
                ));
            }
            if i.dns_names.len() > 50 {
                return Err(Error::Malformed("at most 50 dns_names".into()));
            }
            for n in &i.dns_names {
                match SanName::parse(&format!("dns:{}", n.trim())) {
                    Ok(SanName::Dns(d)) => r.dns_names.push(d),
                    _ => return Err(Error::Malformed(format!("invalid DNS name {n:?}"))),
                }
            }
            r.dns_names.sort();
            r.dns_names.dedup();
        }
        other => {
            return Err(Error::Malformed(format!(
                "kind must be person or device, not {other:?}"
            )))
        }
    }
    Ok(r)
}

/// The outcome of registering one subject.
#[derive(Debug, Clone, Serialize)]
pub struct Registered {
    /// `created`, `updated` or `unchanged`.
    pub result: &'static str,
    /// The subject now.
    pub subject: SubjectRecord,
}

fn same_fields(a: &SubjectRecord, b: &SubjectRecord) -> bool {
    a.email == b.email
        && a.display_name == b.display_name
        && a.department == b.department
        && a.name == b.name
        && a.serial_number == b.serial_number
        && a.owner == b.owner
        && a.dns_names == b.dns_names
        && a.mdm_id == b.mdm_id
        && a.windows_sid == b.windows_sid
        && a.language == b.language
        && a.given_name == b.given_name
        && a.family_name == b.family_name
        && a.pseudonym == b.pseudonym
}

/// What registering `rec` does when `existing` has its kind and external id: `created` when
/// none does, `unchanged` when the fields are the same, `updated` otherwise; an off-boarded
/// subject cannot change (Conflict). The one rule behind [`register`] and [`check`].
fn decide(existing: Option<&SubjectRecord>, rec: &SubjectRecord) -> Result<&'static str> {
    match existing {
        None => Ok("created"),
        Some(e) if same_fields(e, rec) => Ok("unchanged"),
        Some(e) if e.status == SubjectStatus::Offboarded => Err(Error::Conflict(
            "an off-boarded subject cannot be changed".into(),
        )),
        Some(_) => Ok("updated"),
    }
}

/// `existing` with the registrable fields of `rec` (what an update writes).
fn updated(existing: &SubjectRecord, rec: &SubjectRecord, now: i64) -> SubjectRecord {
    let mut new = existing.clone();
    new.email = rec.email.clone();
    new.display_name = rec.display_name.clone();
    new.department = rec.department.clone();
    new.name = rec.name.clone();
    new.serial_number = rec.serial_number.clone();
    new.owner = rec.owner.clone();
    new.dns_names = rec.dns_names.clone();
    new.mdm_id = rec.mdm_id.clone();
    new.windows_sid = rec.windows_sid.clone();
    new.language = rec.language.clone();
    new.given_name = rec.given_name.clone();
    new.family_name = rec.family_name.clone();
    new.pseudonym = rec.pseudonym.clone();
    new.updated_at = now;
    new
}

/// Registers (or updates, idempotently by external id) one subject.
pub fn register(
    store: &dyn Store,
    kind: &str,
    input: &SubjectInput,
    now: i64,
) -> Result<Registered> {
    let mut rec = validate(kind, input)?;
    rec.created_at = now;
    rec.updated_at = now;
    for _ in 0..8 {
        match store.create_subject(&rec)? {
            CreateSubject::Created => {
                return Ok(Registered {
                    result: "created",
                    subject: rec,
                })
            }
            CreateSubject::Exists(existing) => {
                let existing = *existing;
                match decide(Some(&existing), &rec)? {
                    "unchanged" => {
                        return Ok(Registered {
                            result: "unchanged",
                            subject: existing,
                        })
                    }
                    _ => {
                        let new = updated(&existing, &rec, now);
                        if store.update_subject(&existing, &new)? {
                            return Ok(Registered {
                                result: "updated",
                                subject: new,
                            });
                        }
                    }
                }
            }
        }
    }
    Err(Error::Conflict(
        "subject changed concurrently; retry".into(),
    ))
}

/// What [`register`] would do with `input`, writing nothing: the same validation and the same
/// decision against the subject the store holds, or against the one an earlier row of the same
/// run would have left (`earlier`, keyed by kind and external id, which this call updates), so
/// a file that names a subject twice is judged as importing it would judge it. The subject of
/// a would-be creation has a fresh id that no store holds.
pub fn check(
    store: &dyn Store,
    kind: &str,
    input: &SubjectInput,
    now: i64,
    earlier: &mut std::collections::HashMap<(String, String), SubjectRecord>,
) -> Result<Registered> {
    let mut rec = validate(kind, input)?;
    rec.created_at = now;
    rec.updated_at = now;
    let key = (rec.kind.clone(), rec.external_id.clone());
    let existing = match earlier.get(&key) {
        Some(e) => Some(e.clone()),
        None => store.get_subject_by_external(&rec.kind, &rec.external_id)?,
    };
    let result = decide(existing.as_ref(), &rec)?;
    let subject = match (result, existing) {
        ("unchanged", Some(e)) => e,
        (_, Some(e)) => updated(&e, &rec, now),
        (_, None) => rec,
    };
    earlier.insert(key, subject.clone());
    Ok(Registered { result, subject })
}

/// Parses CSV (RFC 4180: quoted fields, doubled quotes) with a header row naming the
/// `SubjectInput` fields; `dns_names` is space- or semicolon-separated.
pub fn parse_csv(text: &str) -> Result<Vec<std::result::Result<SubjectInput, String>>> {
    // Spreadsheets write "CSV UTF-8" with a byte order mark: not part of the first column.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rows = csv_rows(text).map_err(|e| Error::Malformed(format!("CSV: {e}")))?;
    let mut it = rows.into_iter();
    let header = it
        .next()
        .ok_or_else(|| Error::Malformed("CSV is empty".into()))?;
    let header: Vec<String> = header
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    const KNOWN: &[&str] = &[
        "kind",
        "external_id",
        "email",
        "display_name",
        "department",
        "name",
        "serial_number",
        "owner",
        "dns_names",
        "mdm_id",
        "windows_sid",
        "language",
        "given_name",
        "family_name",
        "pseudonym",
    ];
    for h in &header {
        if !KNOWN.contains(&h.as_str()) {
            return Err(Error::Malformed(format!("CSV: unknown column {h:?}")));
        }
    }
    let mut out = Vec::new();
    for row in it {
        if row.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if row.len() != header.len() {
            out.push(Err(format!(
                "expected {} fields, found {}",
                header.len(),
                row.len()
            )));
            continue;
        }
        let mut i = SubjectInput::default();
        for (h, v) in header.iter().zip(row) {
            let v = v.trim().to_owned();
            let opt = if v.is_empty() { None } else { Some(v.clone()) };
            match h.as_str() {
                "kind" => i.kind = opt,
                "external_id" => i.external_id = v,
                "email" => i.email = opt,
                "display_name" => i.display_name = opt,
                "department" => i.department = opt,
                "name" => i.name = opt,
                "serial_number" => i.serial_number = opt,
                "owner" => i.owner = opt,
                "dns_names" => {
                    i.dns_names = v
                        .split([' ', ';'])
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                }
                "windows_sid" => i.windows_sid = opt,
                "language" => i.language = opt,
                "given_name" => i.given_name = opt,
                "family_name" => i.family_name = opt,
                "pseudonym" => i.pseudonym = opt,
                _ => i.mdm_id = opt,
            }
        }
        out.push(Ok(i));
    }
    Ok(out)
}

fn csv_rows(text: &str) -> std::result::Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut in_quotes = false;
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => in_quotes = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
        if rows.len() > 100_000 {
            return Err("more than 100,000 rows".into());
        }
    }
    if in_quotes {
        return Err("unterminated quoted field".into());
    }
    if any && (!field.is_empty() || !row.is_empty()) {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

/// A token id from its text.
pub fn token_id(s: &str) -> Result<TokenId> {
    TokenId::parse(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_column() {
        let rows = parse_csv("\u{feff}kind,external_id,name\ndevice,D-1,laptop\n").unwrap();
        let row = rows[0].as_ref().unwrap();
        assert_eq!(row.kind.as_deref(), Some("device"));
        assert_eq!(row.external_id, "D-1");
    }
    use crate::store::RegistryStore;

    #[test]
    fn csv_quotes_and_errors() {
        let rows = parse_csv(
            "kind,external_id,email,display_name\nperson,e1,a@x.example,\"Doe, Ann\"\nperson,e2\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        let first = rows[0].as_ref().unwrap();
        assert_eq!(first.display_name.as_deref(), Some("Doe, Ann"));
        assert!(rows[1].is_err());
        assert!(parse_csv("bogus\nx\n").is_err());
        assert!(parse_csv("kind\n\"unterminated\n").is_err());
    }

    #[test]
    fn validation() {
        let p = SubjectInput {
            external_id: "e1".into(),
            email: Some("Ann@Example.COM".into()),
            display_name: Some("Ann".into()),
            ..Default::default()
        };
        assert_eq!(
            validate("person", &p).unwrap().email.as_deref(),
            Some("Ann@example.com")
        );
        assert!(validate("device", &p).is_err());
        let d = SubjectInput {
            external_id: "d1".into(),
            name: Some("laptop".into()),
            dns_names: vec!["Laptop.corp.example".into(), "bad name".into()],
            ..Default::default()
        };
        assert!(validate("device", &d).is_err());
        assert!(validate("robot", &d).is_err());
    }

    #[test]
    fn windows_sid_is_validated_for_people_and_devices() {
        let d = SubjectInput {
            external_id: "d1".into(),
            name: Some("laptop".into()),
            windows_sid: Some(" S-1-5-21-1-2-3-1104 ".into()),
            ..Default::default()
        };
        let r = validate("device", &d).unwrap();
        assert_eq!(
            r.windows_sid.as_ref().map(WindowsSid::as_str),
            Some("S-1-5-21-1-2-3-1104")
        );
        let p = SubjectInput {
            external_id: "e1".into(),
            email: Some("ann@example.com".into()),
            display_name: Some("Ann".into()),
            windows_sid: Some("S-1-5-21-1-2-3-1105".into()),
            ..Default::default()
        };
        assert!(validate("person", &p).unwrap().windows_sid.is_some());
        let bad = SubjectInput {
            windows_sid: Some("S-1-5".into()),
            ..d.clone()
        };
        assert!(matches!(validate("device", &bad), Err(Error::Malformed(_))));
        let empty = SubjectInput {
            windows_sid: Some("  ".into()),
            ..d
        };
        assert_eq!(validate("device", &empty).unwrap().windows_sid, None);
    }

    #[test]
    fn csv_and_validation_carry_the_person_names() {
        let rows = parse_csv(
            "kind,external_id,email,display_name,given_name,family_name,pseudonym\n\
             person,e1,ann@x.example,Ann Lee,Ann,Lee,\n\
             person,e2,pen@x.example,Pen,,,Penguin\n",
        )
        .unwrap();
        let ann = validate("person", rows[0].as_ref().unwrap()).unwrap();
        assert_eq!(
            (
                ann.given_name.as_deref(),
                ann.family_name.as_deref(),
                ann.pseudonym
            ),
            (Some("Ann"), Some("Lee"), None)
        );
        let pen = validate("person", rows[1].as_ref().unwrap()).unwrap();
        assert_eq!(pen.pseudonym.as_deref(), Some("Penguin"));
        assert_eq!(pen.given_name, None);
        let both = SubjectInput {
            given_name: Some("Ann".into()),
            ..rows[1].clone().unwrap()
        };
        assert!(matches!(
            validate("person", &both),
            Err(Error::Malformed(_))
        ));
        let device = SubjectInput {
            external_id: "d1".into(),
            name: Some("laptop".into()),
            given_name: Some("Ann".into()),
            ..Default::default()
        };
        assert!(matches!(
            validate("device", &device),
            Err(Error::Malformed(_))
        ));
    }

    #[test]
    fn csv_maps_the_windows_sid_column() {
        let rows =
            parse_csv("kind,external_id,name,windows_sid\ndevice,d1,laptop,S-1-5-21-1-2-3-1104\n")
                .unwrap();
        let row = rows[0].as_ref().unwrap();
        assert_eq!(row.windows_sid.as_deref(), Some("S-1-5-21-1-2-3-1104"));
    }

    fn person(ext: &str, name: &str) -> SubjectInput {
        SubjectInput {
            external_id: ext.into(),
            email: Some(format!("{ext}@example.com")),
            display_name: Some(name.into()),
            ..Default::default()
        }
    }

    #[test]
    fn check_judges_as_register_would_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::sled_store::SledStore::open(dir.path()).unwrap();
        register(&store, "person", &person("e1", "Ann"), 10).unwrap();
        let mut earlier = std::collections::HashMap::new();
        let judge =
            |i: &SubjectInput, e: &mut _| check(&store, "person", i, 20, e).map(|r| r.result);
        assert_eq!(
            judge(&person("e1", "Ann"), &mut earlier).unwrap(),
            "unchanged"
        );
        assert_eq!(judge(&person("e2", "Bo"), &mut earlier).unwrap(), "created");
        // The same new subject again, as a later row of the same file: what importing it
        // would find then.
        assert_eq!(
            judge(&person("e2", "Bo"), &mut earlier).unwrap(),
            "unchanged"
        );
        assert_eq!(
            judge(&person("e2", "Bob"), &mut earlier).unwrap(),
            "updated"
        );
        assert_eq!(
            judge(&person("e1", "Ann B"), &mut earlier).unwrap(),
            "updated"
        );
        assert!(judge(&person("", "Nobody"), &mut earlier).is_err());
        assert!(store
            .get_subject_by_external("person", "e2")
            .unwrap()
            .is_none());
        let e1 = store
            .get_subject_by_external("person", "e1")
            .unwrap()
            .unwrap();
        assert_eq!(e1.display_name.as_deref(), Some("Ann"));
    }

    #[test]
    fn check_refuses_to_change_an_offboarded_subject_as_register_does() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::sled_store::SledStore::open(dir.path()).unwrap();
        let r = register(&store, "person", &person("e1", "Ann"), 10).unwrap();
        let mut gone = r.subject.clone();
        gone.status = SubjectStatus::Offboarded;
        assert!(store.update_subject(&r.subject, &gone).unwrap());
        let changed = person("e1", "Ann B");
        let mut earlier = std::collections::HashMap::new();
        assert!(matches!(
            check(&store, "person", &changed, 20, &mut earlier),
            Err(Error::Conflict(_))
        ));
        assert!(matches!(
            register(&store, "person", &changed, 20),
            Err(Error::Conflict(_))
        ));
    }
}
