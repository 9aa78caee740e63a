//! The HTTP call each `enrolld admin` subcommand makes. Nothing here touches the network,
//! so the mapping is tested without a server.

use hyper::Method;
use serde_json::{json, Map, Value};

use super::commands::{
    AdminCmd, ApprovalsCmd, AuditCmd, CertificatesCmd, CredKind, CredentialsCmd, DevicesCmd,
    EabCmd, EstCredentialsCmd, Kind, PeopleCmd, Status, SubjectsCmd, TokensCmd,
};
use super::query::{encode, parse_duration, Query};

/// What a subcommand sends.
#[derive(Debug)]
pub struct Call {
    /// HTTP method.
    pub method: Method,
    /// Path and query under the base URL (`/api/v1/...`).
    pub path: String,
    /// Content type and body, if any.
    pub body: Option<(&'static str, Vec<u8>)>,
    /// Print only the `pem` field of the answer (`certificates get --pem`).
    pub pem_only: bool,
}

impl Call {
    fn get(path: String) -> Call {
        Call {
            method: Method::GET,
            path,
            body: None,
            pem_only: false,
        }
    }

    fn post(path: String, body: Value) -> Call {
        Call {
            method: Method::POST,
            path,
            body: Some(("application/json", body.to_string().into_bytes())),
            pem_only: false,
        }
    }

    fn post_empty(path: String) -> Call {
        Call {
            method: Method::POST,
            path,
            body: None,
            pem_only: false,
        }
    }

    fn delete(path: String) -> Call {
        Call {
            method: Method::DELETE,
            path,
            body: None,
            pem_only: false,
        }
    }
}

fn seconds(v: &Option<String>) -> Result<Option<u64>, String> {
    v.as_deref().map(parse_duration).transpose()
}

/// Adds `key: value` to a JSON object when `value` is present.
fn put(m: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        m.insert(key.into(), v);
    }
}

impl AdminCmd {
    /// The request this command makes. Reads the import file; everything else is pure.
    pub fn call(&self) -> Result<Call, String> {
        Ok(match self {
            AdminCmd::People {
                cmd:
                    PeopleCmd::Add {
                        external_id,
                        email,
                        display_name,
                        department,
                        windows_sid,
                        given_name,
                        family_name,
                        pseudonym,
                    },
            } => {
                let mut m = Map::new();
                m.insert("external_id".into(), json!(external_id));
                m.insert("email".into(), json!(email));
                m.insert("display_name".into(), json!(display_name));
                put(&mut m, "department", department.as_ref().map(|d| json!(d)));
                put(
                    &mut m,
                    "windows_sid",
                    windows_sid.as_ref().map(|v| json!(v)),
                );
                for (k, v) in [
                    ("given_name", given_name),
                    ("family_name", family_name),
                    ("pseudonym", pseudonym),
                ] {
                    put(&mut m, k, v.as_ref().map(|v| json!(v)));
                }
                Call::post("/api/v1/people".into(), Value::Object(m))
            }
            AdminCmd::Devices {
                cmd:
                    DevicesCmd::Add {
                        external_id,
                        name,
                        serial_number,
                        dns_names,
                        owner,
                        mdm_id,
                        windows_sid,
                    },
            } => {
                let mut m = Map::new();
                m.insert("external_id".into(), json!(external_id));
                m.insert("name".into(), json!(name));
                put(
                    &mut m,
                    "serial_number",
                    serial_number.as_ref().map(|v| json!(v)),
                );
                if !dns_names.is_empty() {
                    m.insert("dns_names".into(), json!(dns_names));
                }
                put(&mut m, "owner", owner.as_ref().map(|v| json!(v)));
                put(&mut m, "mdm_id", mdm_id.as_ref().map(|v| json!(v)));
                put(
                    &mut m,
                    "windows_sid",
                    windows_sid.as_ref().map(|v| json!(v)),
                );
                Call::post("/api/v1/devices".into(), Value::Object(m))
            }
            AdminCmd::Subjects { cmd } => subjects(cmd)?,
            AdminCmd::Credentials {
                cmd:
                    CredentialsCmd::Create {
                        subject_id,
                        kind,
                        expires_in,
                        uses,
                        label,
                        legacy_p12,
                        mail,
                    },
            } => {
                let kind = match kind {
                    CredKind::Est => "est",
                    CredKind::Scep => "scep",
                    CredKind::Acme => "acme",
                    CredKind::Pickup => "pickup",
                };
                let mut m = Map::new();
                m.insert("kind".into(), json!(kind));
                put(&mut m, "expires_in", seconds(expires_in)?.map(|v| json!(v)));
                put(&mut m, "uses", uses.map(|v| json!(v)));
                put(&mut m, "label", label.as_ref().map(|v| json!(v)));
                if *legacy_p12 {
                    m.insert("legacy_p12".into(), json!(true));
                }
                if *mail {
                    m.insert("deliver".into(), json!("email"));
                }
                Call::post(
                    format!("/api/v1/subjects/{}/credentials", encode(subject_id)),
                    Value::Object(m),
                )
            }
            AdminCmd::Certificates { cmd } => certificates(cmd),
            AdminCmd::Tokens { cmd } => match cmd {
                TokensCmd::Create {
                    name,
                    scopes,
                    expires_in,
                } => {
                    let mut m = Map::new();
                    m.insert("name".into(), json!(name));
                    m.insert("scopes".into(), json!(scopes));
                    put(&mut m, "expires_in", seconds(expires_in)?.map(|v| json!(v)));
                    Call::post("/api/v1/tokens".into(), Value::Object(m))
                }
                TokensCmd::List => Call::get("/api/v1/tokens".into()),
                TokensCmd::Revoke { id } => Call::delete(format!("/api/v1/tokens/{}", encode(id))),
            },
            AdminCmd::Approvals { cmd } => match cmd {
                ApprovalsCmd::List { status } => Call::get(
                    Query::default()
                        .opt("status", status.as_ref())
                        .to_path("/api/v1/approvals"),
                ),
                ApprovalsCmd::Approve { id } => {
                    Call::post_empty(format!("/api/v1/approvals/{}/approve", encode(id)))
                }
                ApprovalsCmd::Reject { id } => {
                    Call::post_empty(format!("/api/v1/approvals/{}/reject", encode(id)))
                }
            },
            AdminCmd::Audit { cmd } => match cmd {
                AuditCmd::List { after, limit } => Call::get(
                    Query::default()
                        .opt("after", *after)
                        .opt("limit", *limit)
                        .to_path("/api/v1/audit"),
                ),
                AuditCmd::VerifyRemote => Call::get("/api/v1/audit/verify".into()),
            },
            AdminCmd::EstCredentials {
                cmd:
                    EstCredentialsCmd::Create {
                        common_name,
                        sans,
                        label,
                        expires_in,
                        uses,
                    },
            } => {
                let mut m = Map::new();
                m.insert("common_name".into(), json!(common_name));
                if !sans.is_empty() {
                    m.insert("sans".into(), json!(sans));
                }
                put(&mut m, "label", label.as_ref().map(|v| json!(v)));
                put(&mut m, "expires_in", seconds(expires_in)?.map(|v| json!(v)));
                put(&mut m, "uses", uses.map(|v| json!(v)));
                Call::post("/api/v1/est/credentials".into(), Value::Object(m))
            }
            AdminCmd::Eab { cmd } => match cmd {
                EabCmd::Create {
                    identifiers,
                    challenge,
                    profile,
                    expires_in,
                } => {
                    let mut allowed = Vec::new();
                    for i in identifiers {
                        let (t, v) = i.split_once(':').ok_or_else(|| {
                            format!("--identifier {i:?}: write TYPE:VALUE, e.g. dns:host.example")
                        })?;
                        allowed.push(json!({"type": t, "value": v, "challenge": *challenge}));
                    }
                    let mut m = Map::new();
                    m.insert("allowed_identifiers".into(), json!(allowed));
                    put(&mut m, "profile", profile.as_ref().map(|v| json!(v)));
                    put(&mut m, "expires_in", seconds(expires_in)?.map(|v| json!(v)));
                    Call::post("/api/v1/acme/eab".into(), Value::Object(m))
                }
                EabCmd::Withdraw { kid } => {
                    Call::delete(format!("/api/v1/acme/eab/{}", encode(kid)))
                }
            },
        })
    }
}

fn subjects(cmd: &SubjectsCmd) -> Result<Call, String> {
    Ok(match cmd {
        SubjectsCmd::List {
            kind,
            status,
            department,
            limit,
        } => Call::get(
            Query::default()
                .opt("kind", kind.map(Kind::as_str))
                .opt("status", status.map(Status::as_str))
                .opt("department", department.as_ref())
                .opt("limit", *limit)
                .to_path("/api/v1/subjects"),
        ),
        SubjectsCmd::Get { id } => Call::get(format!("/api/v1/subjects/{}", encode(id))),
        SubjectsCmd::SetStatus { id, status } => Call {
            method: Method::PATCH,
            path: format!("/api/v1/subjects/{}", encode(id)),
            body: Some((
                "application/json",
                json!({"status": status.as_str()}).to_string().into_bytes(),
            )),
            pem_only: false,
        },
        SubjectsCmd::Import { file } => {
            let is_json = file
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"));
            let data = if file.as_os_str() == "-" {
                let mut v = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut v)
                    .map_err(|e| format!("reading stdin: {e}"))?;
                v
            } else {
                std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?
            };
            let ct = if is_json {
                "application/json"
            } else {
                "text/csv; charset=utf-8"
            };
            Call {
                method: Method::POST,
                path: "/api/v1/subjects/bulk".into(),
                body: Some((ct, data)),
                pem_only: false,
            }
        }
    })
}

fn certificates(cmd: &CertificatesCmd) -> Call {
    match cmd {
        CertificatesCmd::List {
            filter,
            limit,
            after,
        } => Call::get(
            filter
                .query()
                .opt("limit", *limit)
                .opt("after", after.as_ref())
                .to_path("/api/v1/certificates"),
        ),
        CertificatesCmd::Get { serial, pem } => Call {
            pem_only: *pem,
            ..Call::get(format!("/api/v1/certificates/{}", encode(serial)))
        },
        CertificatesCmd::Revoke { serial, reason } => Call::post(
            format!("/api/v1/certificates/{}/revoke", encode(serial)),
            json!({"reason": reason}),
        ),
        CertificatesCmd::RevokeMatching { filter, reason } => Call::post(
            "/api/v1/certificates/revoke".into(),
            json!({"query": filter.json(), "reason": reason}),
        ),
        CertificatesCmd::RenewalWindow {
            serials,
            start,
            end,
        } => {
            let mut m = Map::new();
            m.insert("serials".into(), json!(serials));
            put(&mut m, "start", start.as_ref().map(|v| json!(v)));
            put(&mut m, "end", end.as_ref().map(|v| json!(v)));
            Call::post("/api/v1/acme/renewal-window".into(), Value::Object(m))
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// `enrolld admin …` without the connection options.
    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: AdminCmd,
    }

    fn call(args: &[&str]) -> Call {
        let t = T::try_parse_from(std::iter::once("admin").chain(args.iter().copied())).unwrap();
        t.cmd.call().unwrap()
    }

    fn body(c: &Call) -> Value {
        serde_json::from_slice(&c.body.as_ref().unwrap().1).unwrap()
    }

    #[test]
    fn people_and_devices() {
        let c = call(&[
            "people",
            "add",
            "--external-id",
            "e1",
            "--email",
            "a@x.example",
            "--display-name",
            "A",
        ]);
        assert_eq!(
            (c.method.as_str(), c.path.as_str()),
            ("POST", "/api/v1/people")
        );
        assert_eq!(
            body(&c),
            json!({"external_id": "e1", "email": "a@x.example", "display_name": "A"})
        );
        let c = call(&[
            "people",
            "add",
            "--external-id",
            "e2",
            "--email",
            "b@x.example",
            "--display-name",
            "B",
            "--given-name",
            "Bea",
            "--family-name",
            "Lee",
        ]);
        assert_eq!(
            body(&c),
            json!({"external_id": "e2", "email": "b@x.example", "display_name": "B", "given_name": "Bea", "family_name": "Lee"})
        );
        let c = call(&[
            "devices",
            "add",
            "--external-id",
            "d1",
            "--name",
            "n",
            "--dns-name",
            "a.example",
            "--dns-name",
            "b.example",
            "--mdm-id",
            "m",
            "--windows-sid",
            "S-1-5-21-1-2-3-1104",
        ]);
        assert_eq!(
            body(&c),
            json!({"external_id": "d1", "name": "n", "dns_names": ["a.example", "b.example"], "mdm_id": "m", "windows_sid": "S-1-5-21-1-2-3-1104"})
        );
    }

    #[test]
    fn paths_and_queries() {
        let c = call(&[
            "subjects",
            "list",
            "--kind",
            "device",
            "--department",
            "R&D",
        ]);
        assert_eq!(c.path, "/api/v1/subjects?kind=device&department=R%26D");
        let c = call(&["subjects", "set-status", "s1", "offboarded"]);
        assert_eq!(
            (c.method.as_str(), c.path.as_str()),
            ("PATCH", "/api/v1/subjects/s1")
        );
        assert_eq!(body(&c), json!({"status": "offboarded"}));
        let c = call(&[
            "credentials",
            "create",
            "s1",
            "pickup",
            "--expires-in",
            "3d",
            "--legacy-p12",
        ]);
        assert_eq!(c.path, "/api/v1/subjects/s1/credentials");
        assert_eq!(
            body(&c),
            json!({"kind": "pickup", "expires_in": 259200, "legacy_p12": true})
        );
        let c = call(&["credentials", "create", "s1", "pickup", "--mail"]);
        assert_eq!(body(&c), json!({"kind": "pickup", "deliver": "email"}));
        let c = call(&["credentials", "create", "s1", "scep", "--label", "mdm"]);
        assert_eq!(body(&c), json!({"kind": "scep", "label": "mdm"}));
        let c = call(&["certificates", "list", "--status", "good", "--limit", "10"]);
        assert_eq!(c.path, "/api/v1/certificates?status=good&limit=10");
        let c = call(&[
            "certificates",
            "revoke-matching",
            "--department",
            "Sales",
            "--reason",
            "affiliationChanged",
        ]);
        assert_eq!(
            body(&c),
            json!({"query": {"department": "Sales"}, "reason": "affiliationChanged"})
        );
        let c = call(&[
            "tokens",
            "create",
            "--name",
            "n",
            "--scope",
            "read,issue",
            "--scope",
            "revoke",
        ]);
        assert_eq!(
            body(&c),
            json!({"name": "n", "scopes": ["read", "issue", "revoke"]})
        );
        let c = call(&["tokens", "revoke", "abc"]);
        assert_eq!(
            (c.method.as_str(), c.path.as_str()),
            ("DELETE", "/api/v1/tokens/abc")
        );
        let c = call(&["approvals", "approve", "x1"]);
        assert_eq!(
            (c.method.as_str(), c.path.as_str(), c.body.is_none()),
            ("POST", "/api/v1/approvals/x1/approve", true)
        );
        let c = call(&["audit", "list", "--after", "5"]);
        assert_eq!(c.path, "/api/v1/audit?after=5");
        let c = call(&[
            "eab",
            "create",
            "--identifier",
            "dns:*.lab.example",
            "--identifier",
            "permanent-identifier:SN1",
        ]);
        assert_eq!(
            body(&c)["allowed_identifiers"],
            json!([{"type": "dns", "value": "*.lab.example", "challenge": false},
                   {"type": "permanent-identifier", "value": "SN1", "challenge": false}])
        );
    }

    #[test]
    fn bad_arguments_are_refused_before_any_request() {
        let t = T::try_parse_from(["admin", "eab", "create", "--identifier", "nocolon"]).unwrap();
        assert!(t.cmd.call().is_err());
        let t = T::try_parse_from([
            "admin",
            "tokens",
            "create",
            "--name",
            "n",
            "--scope",
            "read",
            "--expires-in",
            "2w",
        ])
        .unwrap();
        assert!(t.cmd.call().is_err());
        assert!(T::try_parse_from(["admin", "subjects", "set-status", "s1", "gone"]).is_err());
        assert!(T::try_parse_from(["admin", "credentials", "create", "s1", "ssh"]).is_err());
    }
}
