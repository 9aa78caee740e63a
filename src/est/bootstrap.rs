//! Manufacturer (IDevID, IEEE 802.1AR) certificates as EST bootstrap credentials.
//!
//! A bootstrap certificate is not a licence to enrol any name: the device may request exactly
//! one name, its serial number (the subject's X.520 serialNumber attribute, or the
//! certificate's serial in hex when the subject has none).

use std::path::Path;

use x509_parser::prelude::{FromDer, X509Certificate};

use crate::ca::pem_certs;
use crate::error::{Error, Result};

/// One trusted manufacturer CA.
#[derive(Debug, Clone)]
pub struct BootstrapCa {
    /// The CA certificate, DER.
    pub der: Vec<u8>,
}

const OID_SERIAL_NUMBER: &str = "2.5.4.5";

impl BootstrapCa {
    /// Loads every certificate of a PEM file.
    pub fn load(path: &Path) -> Result<Vec<BootstrapCa>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Internal(format!("bootstrap CA file {}: {e}", path.display())))?;
        Ok(pem_certs(&text)?
            .into_iter()
            .map(|der| BootstrapCa { der })
            .collect())
    }

    /// If `cert` was issued by this CA (name and signature), the one name it may request.
    pub fn device_name(&self, cert: &[u8]) -> Option<String> {
        let (_, ca) = X509Certificate::from_der(&self.der).ok()?;
        let (_, c) = X509Certificate::from_der(cert).ok()?;
        if c.issuer() != ca.subject() {
            return None;
        }
        c.verify_signature(Some(ca.public_key())).ok()?;
        let from_subject = c
            .subject()
            .iter_attributes()
            .find(|a| a.attr_type().to_id_string() == OID_SERIAL_NUMBER)
            .and_then(|a| a.as_str().ok())
            .map(str::to_owned);
        let fallback = crate::ids::Serial::from_bytes(c.raw_serial())
            .ok()?
            .to_hex();
        Some(from_subject.unwrap_or(fallback))
    }
}
