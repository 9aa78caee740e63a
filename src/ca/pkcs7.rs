//! DER encodings EST needs: PKCS#7 certs-only (RFC 7030 §4.1.3, RFC 5652 §5) and CSR
//! attributes (RFC 7030 §4.5.2, RFC 8951 §4).

use yasna::models::ObjectIdentifier;
use yasna::Tag;

/// id-signedData (RFC 5652 §5.1).
const SIGNED_DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 2];
/// id-data (RFC 5652 §4).
const DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 1];

/// A degenerate SignedData holding `certs` and no signers: "certs-only".
/// The certificates are a DER SET OF, so their order is not kept (RFC 5652 §10.2.3).
pub fn certs_only(certs: &[&[u8]]) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next()
                .write_oid(&ObjectIdentifier::from_slice(SIGNED_DATA));
            w.next().write_tagged(Tag::context(0), |w| {
                w.write_sequence(|w| {
                    w.next().write_u8(1); // version
                    w.next().write_set(|_| {}); // digestAlgorithms
                    w.next().write_sequence(|w| {
                        w.next().write_oid(&ObjectIdentifier::from_slice(DATA));
                    });
                    w.next().write_tagged_implicit(Tag::context(0), |w| {
                        w.write_set(|w| {
                            for c in certs {
                                w.next().write_der(c);
                            }
                        })
                    });
                    w.next().write_set(|_| {}); // signerInfos
                })
            });
        })
    })
}

/// One element of a CsrAttrs sequence (RFC 8951 §4 `AttrOrOID`).
pub enum AttrOrOid {
    /// A bare OID: "include this attribute" or "use this algorithm".
    Oid(&'static [u64]),
    /// An attribute with values that are OIDs (e.g. id-ecPublicKey with the curve).
    Attr(&'static [u64], Vec<&'static [u64]>),
}

/// CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID.
pub fn csr_attrs(items: &[AttrOrOid]) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            for it in items {
                match it {
                    AttrOrOid::Oid(o) => w.next().write_oid(&ObjectIdentifier::from_slice(o)),
                    AttrOrOid::Attr(o, vals) => w.next().write_sequence(|w| {
                        w.next().write_oid(&ObjectIdentifier::from_slice(o));
                        w.next().write_set(|w| {
                            for v in vals {
                                w.next().write_oid(&ObjectIdentifier::from_slice(v));
                            }
                        });
                    }),
                }
            }
        })
    })
}

/// The Authority Information Access extension value (RFC 5280 §4.2.2.1).
pub fn authority_info_access(ocsp: Option<&str>, ca_issuers: Option<&str>) -> Vec<u8> {
    const OCSP: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1];
    const CA_ISSUERS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 2];
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            for (oid, url) in [(OCSP, ocsp), (CA_ISSUERS, ca_issuers)] {
                if let Some(url) = url {
                    w.next().write_sequence(|w| {
                        w.next().write_oid(&ObjectIdentifier::from_slice(oid));
                        w.next()
                            .write_tagged_implicit(Tag::context(6), |w| w.write_ia5_string(url));
                    });
                }
            }
        })
    })
}
