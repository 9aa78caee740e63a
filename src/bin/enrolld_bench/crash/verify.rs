//! The checks after each restart of the `crash` tool: the store against the ledger of what
//! clients were told (see the parent module's documentation).

use super::*;

/// The checks after a restart (see the module documentation). An `Err` means a check could
/// not be made at all (the server did not answer), not that one failed.
pub(super) async fn verify(
    target: &Arc<Target>,
    token: &str,
    ledger: &Arc<Mutex<Ledger>>,
    round: usize,
) -> Result<(), String> {
    let bearer = format!("Bearer {token}");
    let auth = [("authorization", bearer.as_str())];
    let mut http = Http::new(target.clone());
    let op = |e: OpError| e.detail();

    // Cut-off enrolments: the identical CSR must answer 200 (now issued, or redelivered).
    let pending = std::mem::take(&mut lock(ledger).pending);
    for (cred, csr, from) in pending {
        let (status, cert) = enrol_status(&mut http, &cred, &csr).await.map_err(op)?;
        let mut l = lock(ledger);
        l.pending_retried += 1;
        match (status, cert) {
            (200, Some(der)) => l.receive(cred, csr, der, from),
            (s, _) => l.violation(format!(
                "round {from}: a credential whose enrolment was cut off by the kill answers the identical CSR with HTTP {s} after restart (expected 200)"
            )),
        }
    }

    // The inventory, every page.
    let mut store: HashMap<String, (String, Option<Vec<u8>>)> = HashMap::new();
    let mut credentials: HashMap<String, String> = HashMap::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/api/v1/certificates?limit=1000&after={a}"),
            None => "/api/v1/certificates?limit=1000".to_owned(),
        };
        let r = http
            .get(&path, &auth)
            .await
            .map_err(op)?
            .expect("inventory", 200)
            .map_err(op)?;
        let v: Value = serde_json::from_slice(&r.body).map_err(|e| format!("inventory: {e}"))?;
        let items = v["certificates"].as_array().cloned().unwrap_or_default();
        let mut l = lock(ledger);
        for c in &items {
            let serial = c["serial"].as_str().unwrap_or_default().to_owned();
            let status = c["status"].as_str().unwrap_or_default().to_owned();
            let der = c["pem"].as_str().and_then(der_of_pem);
            if let Some(cred) = c["credential"].as_str() {
                if let Some(other) = credentials.insert(cred.to_owned(), serial.clone()) {
                    l.violation(format!(
                        "after restart {round}: credential {cred} authorised two certificates in the store: {other} and {serial}"
                    ));
                }
            }
            if store.insert(serial.clone(), (status, der)).is_some() {
                l.violation(format!(
                    "after restart {round}: the inventory lists serial {serial} twice"
                ));
            }
        }
        drop(l);
        match v["next"].as_str() {
            Some(n) if !items.is_empty() => after = Some(n.to_owned()),
            _ => break,
        }
    }

    // Every certificate received is there, unchanged, with the right status.
    let mut new = Vec::new();
    {
        let mut l = lock(ledger);
        let mut found = Vec::new();
        for (i, c) in l.issued.iter().enumerate() {
            found.push(store.get(&c.serial).cloned());
            if c.round + 1 == round || c.round == round {
                new.push(i);
            }
        }
        for (i, got) in found.into_iter().enumerate() {
            let (serial, der, from) = {
                let c = &l.issued[i];
                (c.serial.clone(), c.der.clone(), c.round)
            };
            l.certificates_checked += 1;
            let acked = l.revoked_acked.contains(&serial);
            let sent = l.revoke_sent.contains(&serial);
            match got {
                None => l.violation(format!(
                    "after restart {round}: certificate {serial}, received in round {from}, is missing from the store"
                )),
                Some((status, stored)) => {
                    if stored.as_deref() != Some(der.as_slice()) {
                        l.violation(format!(
                            "after restart {round}: the store holds a different certificate under serial {serial} (received in round {from})"
                        ));
                    }
                    if acked && status != "revoked" {
                        l.violation(format!(
                            "after restart {round}: revocation of {serial} was acknowledged but the store says {status}"
                        ));
                    } else if acked {
                        l.revocations_checked += 1;
                    } else if !sent && status != "good" {
                        l.violation(format!(
                            "after restart {round}: {serial} was never revoked but the store says {status}"
                        ));
                    }
                }
            }
        }
    }

    // The new ones once more by serial, and their credentials: spent, but redelivering.
    for i in new {
        let (serial, der, cred, csr) = {
            let l = lock(ledger);
            let c = &l.issued[i];
            (
                c.serial.clone(),
                c.der.clone(),
                c.auth.clone(),
                c.csr_b64.clone(),
            )
        };
        let r = http
            .get(&format!("/api/v1/certificates/{serial}"), &auth)
            .await
            .map_err(op)?;
        let pem_der = serde_json::from_slice::<Value>(&r.body)
            .ok()
            .and_then(|v| v["pem"].as_str().and_then(der_of_pem));
        let (same, same_der) = enrol_status(&mut http, &cred, &csr).await.map_err(op)?;
        let other = pki::p256_csr(&[]).map_err(|e| e.to_string())?;
        let (other, _) = enrol_status(&mut http, &cred, &pki::b64(&other))
            .await
            .map_err(op)?;
        let mut l = lock(ledger);
        l.certificates_checked += 1;
        l.credential_retries_checked += 2;
        if r.status != 200 || pem_der.as_deref() != Some(der.as_slice()) {
            l.violation(format!(
                "after restart {round}: GET /api/v1/certificates/{serial} answered HTTP {} without the certificate received",
                r.status
            ));
        }
        if same != 200 || same_der.as_deref() != Some(der.as_slice()) {
            l.violation(format!(
                "after restart {round}: the credential of {serial} answers the identical CSR with HTTP {same} and {} (expected 200, same certificate)",
                if same_der.is_some() { "another certificate" } else { "no certificate" }
            ));
        }
        if other != 403 {
            l.violation(format!(
                "after restart {round}: the spent credential of {serial} answers a different CSR with HTTP {other} (expected 403)"
            ));
        }
    }

    // The CRL lists exactly what the store says is revoked.
    let crl = http
        .get("/crl/issuing.crl", &[])
        .await
        .map_err(op)?
        .expect("crl", 200)
        .map_err(op)?;
    let listed: BTreeSet<String> = match x509_parser::parse_x509_crl(&crl.body) {
        Ok((_, c)) => c
            .iter_revoked_certificates()
            .map(|r| serial_hex(r.raw_serial()))
            .collect(),
        Err(e) => return Err(format!("the issuing CRL does not parse: {e}")),
    };
    let revoked: BTreeSet<String> = store
        .iter()
        .filter(|(_, (s, _))| s == "revoked")
        .map(|(k, _)| k.clone())
        .collect();
    let mut l = lock(ledger);
    l.crls_checked += 1;
    for s in revoked.difference(&listed) {
        l.violation(format!(
            "after restart {round}: {s} is revoked in the store but not on the CRL"
        ));
    }
    for s in listed.difference(&revoked) {
        l.violation(format!(
            "after restart {round}: {s} is on the CRL but not revoked in the store"
        ));
    }
    Ok(())
}
