//! Backups: a consistent snapshot of the store and the data directory's files, taken while the
//! server runs, and restore into an empty data directory.
//!
//! Format (JSON lines): a header `{"kind":"enrolld-backup","version":1,"created_at":…}`, then
//! one `{"file":PATH,"mode":MODE,"data":BASE64}` per file (CA keys and certificates, TLS
//! files, `secret.key`, `ca-bundle.pem`) and one `{"tree":BASE64,"entries":[[K,V],…]}` per store
//! tree. The file holds the CA keys: it is written with mode 0600 and must be kept like them.

use std::path::Path;

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::secrets::write_secret_file;
use crate::store::sled_store::SledStore;

/// Files of the data directory a backup carries (relative paths, and whether they are secret).
const FILES: &[(&str, bool)] = &[
    ("ca/issuing.crt", false),
    ("ca/issuing.key", true),
    ("ca/chain.pem", false),
    ("ca/root.key", true),
    ("ca/scep-ra.crt", false),
    ("ca/scep-ra.key", true),
    ("ca/scep-ra-previous.crt", false),
    ("ca/scep-ra-previous.key", true),
    ("tls/server.crt", false),
    ("tls/server.key", true),
    ("secret.key", true),
    ("ca-bundle.pem", false),
    ("admin-token", true),
    ("audit-signing.key", true),
    ("audit-signing.pub", false),
    ("audit-checkpoint.json", false),
];

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Header {
        kind: String,
        version: u32,
        created_at: i64,
    },
    File {
        file: String,
        secret: bool,
        data: String,
    },
    Tree {
        tree: String,
        entries: Vec<(String, String)>,
    },
}

/// Takes a backup of `dir` with the open `store` (writers pause during the store export).
pub fn backup(dir: &Path, store: &dyn crate::store::Store) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut push = |l: &Line| -> Result<()> {
        out.extend_from_slice(&serde_json::to_vec(l)?);
        out.push(b'\n');
        Ok(())
    };
    push(&Line::Header {
        kind: "enrolld-backup".into(),
        version: 1,
        created_at: time::OffsetDateTime::now_utc().unix_timestamp(),
    })?;
    for (rel, secret) in FILES {
        let p = dir.join(rel);
        if p.exists() {
            push(&Line::File {
                file: (*rel).into(),
                secret: *secret,
                data: Base64::encode_string(&std::fs::read(&p)?),
            })?;
        }
    }
    for (kind, name, items) in store.export_all()? {
        if kind != b"tree" {
            continue;
        }
        let entries = items
            .into_iter()
            .filter_map(|kv| match kv.as_slice() {
                [k, v] => Some((Base64::encode_string(k), Base64::encode_string(v))),
                _ => None,
            })
            .collect();
        push(&Line::Tree {
            tree: Base64::encode_string(&name),
            entries,
        })?;
    }
    Ok(out)
}

/// Restores a backup into `dir`, which must not hold a CA. Returns the number of store entries.
pub fn restore(dir: &Path, backup: &[u8]) -> Result<usize> {
    if dir.join("ca/issuing.key").exists() || dir.join("store").exists() {
        return Err(Error::Malformed(format!(
            "{} already holds a CA or a store; restore into an empty directory",
            dir.display()
        )));
    }
    let text = std::str::from_utf8(backup)
        .map_err(|_| Error::Malformed("backup is not UTF-8 JSON lines".into()))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let bad = |m: &str| Error::Malformed(format!("not an enrolld backup: {m}"));
    match lines.next().map(serde_json::from_str::<Line>) {
        Some(Ok(Line::Header {
            kind, version: 1, ..
        })) if kind == "enrolld-backup" => {}
        _ => return Err(bad("missing header")),
    }
    let mut trees = Vec::new();
    let mut files = Vec::new();
    for l in lines {
        match serde_json::from_str::<Line>(l).map_err(|_| bad("malformed line"))? {
            Line::Header { .. } => return Err(bad("second header")),
            Line::File { file, secret, data } => {
                if !FILES.iter().any(|(f, _)| *f == file) {
                    return Err(bad("unexpected file"));
                }
                files.push((
                    file,
                    secret,
                    Base64::decode_vec(&data).map_err(|_| bad("file not base64"))?,
                ));
            }
            Line::Tree { tree, entries } => {
                let name = Base64::decode_vec(&tree).map_err(|_| bad("tree name not base64"))?;
                let mut items = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    items.push(vec![
                        Base64::decode_vec(&k).map_err(|_| bad("key not base64"))?,
                        Base64::decode_vec(&v).map_err(|_| bad("value not base64"))?,
                    ]);
                }
                trees.push((b"tree".to_vec(), name, items));
            }
        }
    }
    if !files.iter().any(|(f, _, _)| f == "ca/issuing.key") {
        return Err(bad("no CA key"));
    }
    std::fs::create_dir_all(dir.join("ca"))?;
    std::fs::create_dir_all(dir.join("tls"))?;
    for (file, secret, data) in files {
        let p = dir.join(&file);
        if secret {
            write_secret_file(&p, &data)?;
        } else {
            std::fs::write(&p, &data)?;
        }
    }
    let count = trees.iter().map(|(_, _, i)| i.len()).sum();
    let store = SledStore::open(&dir.join("store"))?;
    store.import(trees)?;
    Ok(count)
}
