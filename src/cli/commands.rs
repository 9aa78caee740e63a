//! The grammar of `enrolld admin`: one subcommand per admin API endpoint (the route table is
//! `src/http/api.rs`). What each one sends is in [`super::calls`].

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use serde_json::{json, Map, Value};

use super::query::Query;
/// The command groups.
#[derive(Debug, Subcommand)]
pub enum AdminCmd {
    /// Register people (POST /api/v1/people).
    People {
        #[command(subcommand)]
        cmd: PeopleCmd,
    },
    /// Register devices (POST /api/v1/devices).
    Devices {
        #[command(subcommand)]
        cmd: DevicesCmd,
    },
    /// List, show, import people and devices; change their status.
    Subjects {
        #[command(subcommand)]
        cmd: SubjectsCmd,
    },
    /// Enrolment credentials of a registered subject (EST, ACME EAB, pickup link).
    Credentials {
        #[command(subcommand)]
        cmd: CredentialsCmd,
    },
    /// The certificate inventory, revocation and ARI renewal windows.
    Certificates {
        #[command(subcommand)]
        cmd: CertificatesCmd,
    },
    /// API tokens and their scopes (needs an admin token).
    Tokens {
        #[command(subcommand)]
        cmd: TokensCmd,
    },
    /// Enrolments waiting for an administrator.
    Approvals {
        #[command(subcommand)]
        cmd: ApprovalsCmd,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// Loose EST credentials, not tied to a registered subject (POST /api/v1/est/credentials).
    EstCredentials {
        #[command(subcommand)]
        cmd: EstCredentialsCmd,
    },
    /// Loose ACME External Account Binding keys (POST /api/v1/acme/eab).
    Eab {
        #[command(subcommand)]
        cmd: EabCmd,
    },
}

/// `people …`
#[derive(Debug, Subcommand)]
pub enum PeopleCmd {
    /// Register a person, or update the one with this external id.
    Add {
        /// The HR system's id (idempotency key).
        #[arg(long)]
        external_id: String,
        /// Mail address: the certificate's rfc822Name (an SmtpUTF8Mailbox when not ASCII).
        #[arg(long)]
        email: String,
        /// Display name: pages and mail; the commonName only of a profile without `smime`.
        #[arg(long)]
        display_name: String,
        /// Department (a filter for listing and bulk revocation).
        #[arg(long)]
        department: Option<String>,
        /// The Active Directory account's SID (S-1-5-21-…), for Windows strong mapping.
        #[arg(long)]
        windows_sid: Option<String>,
        /// Given name, as HR verified it: the givenName of individual-validated S/MIME
        /// certificates.
        #[arg(long)]
        given_name: Option<String>,
        /// Family name: the surname of individual-validated S/MIME certificates.
        #[arg(long)]
        family_name: Option<String>,
        /// Pseudonym, instead of both names, for individual-validated S/MIME certificates.
        #[arg(long)]
        pseudonym: Option<String>,
    },
}

/// `devices …`
#[derive(Debug, Subcommand)]
pub enum DevicesCmd {
    /// Register a device, or update the one with this external id.
    Add {
        /// The MDM or inventory system's id (idempotency key).
        #[arg(long)]
        external_id: String,
        /// Device name: the certificate's commonName.
        #[arg(long)]
        name: String,
        /// Hardware serial number (an ACME permanent-identifier).
        #[arg(long)]
        serial_number: Option<String>,
        /// DNS name the device may carry (repeat for several).
        #[arg(long = "dns-name", value_name = "NAME")]
        dns_names: Vec<String>,
        /// The owner's external id.
        #[arg(long)]
        owner: Option<String>,
        /// The MDM's id of the device.
        #[arg(long)]
        mdm_id: Option<String>,
        /// The Active Directory computer account's SID (S-1-5-21-…), for Windows strong
        /// mapping.
        #[arg(long)]
        windows_sid: Option<String>,
    },
}

/// Subject kinds.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    /// A person.
    Person,
    /// A device.
    Device,
}

/// Subject statuses.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Status {
    /// May enrol.
    Active,
    /// No issuance; certificates on hold (reversible).
    Suspended,
    /// Everything revoked and disabled (final; needs the revoke scope).
    Offboarded,
}

impl Kind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Kind::Person => "person",
            Kind::Device => "device",
        }
    }
}

impl Status {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Suspended => "suspended",
            Status::Offboarded => "offboarded",
        }
    }
}

/// `subjects …`
#[derive(Debug, Subcommand)]
pub enum SubjectsCmd {
    /// List people and devices (GET /api/v1/subjects).
    List {
        /// Only this kind.
        #[arg(long, value_enum)]
        kind: Option<Kind>,
        /// Only this status.
        #[arg(long, value_enum)]
        status: Option<Status>,
        /// Only this department.
        #[arg(long)]
        department: Option<String>,
        /// At most this many (server default 1000).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// One subject with its certificates and credentials.
    Get {
        /// Subject id.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Activate, suspend or off-board a subject (PATCH /api/v1/subjects/ID).
    SetStatus {
        /// Subject id.
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// The new status.
        #[arg(value_enum)]
        status: Status,
    },
    /// Register many subjects from a CSV file with a header row (or a JSON array if the file
    /// name ends in .json); `-` reads CSV from stdin.
    Import {
        /// The file.
        file: PathBuf,
    },
}

/// Credential kinds of a subject.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CredKind {
    /// EST Basic username and password.
    Est,
    /// One-time SCEP challenge (with the URL to give the device or MDM).
    Scep,
    /// ACME External Account Binding key.
    Acme,
    /// One-time pickup link for a person's browser.
    Pickup,
}

/// `credentials …`
#[derive(Debug, Subcommand)]
pub enum CredentialsCmd {
    /// Create a credential for a registered, active subject.
    Create {
        /// Subject id.
        #[arg(allow_hyphen_values = true)]
        subject_id: String,
        /// Which kind.
        #[arg(value_enum)]
        kind: CredKind,
        /// Lifetime: seconds, or 45m, 12h, 30d.
        #[arg(long)]
        expires_in: Option<String>,
        /// EST and SCEP: enrolments allowed (default 1).
        #[arg(long)]
        uses: Option<u32>,
        /// EST and SCEP: the label the credential is for.
        #[arg(long)]
        label: Option<String>,
        /// Pickup: also offer the legacy 3DES / SHA-1 PKCS#12 format.
        #[arg(long)]
        legacy_p12: bool,
        /// Pickup: send the link to the subject's e-mail address (`[mail]`) instead of
        /// printing it.
        #[arg(long)]
        mail: bool,
    },
}

/// Certificate filters shared by listing and bulk revocation.
#[derive(Debug, clap::Args)]
pub struct CertFilter {
    /// Registered subject id.
    #[arg(long, allow_hyphen_values = true)]
    subject_id: Option<String>,
    /// Subject commonName (case-insensitive).
    #[arg(long)]
    subject: Option<String>,
    /// good or revoked.
    #[arg(long)]
    status: Option<String>,
    /// Profile name.
    #[arg(long)]
    profile: Option<String>,
    /// Channel (est-simpleenroll, est-simplereenroll, acme, pickup, …).
    #[arg(long)]
    channel: Option<String>,
    /// Expiring before this RFC 3339 time.
    #[arg(long)]
    expiring_before: Option<String>,
    /// Department of the subject.
    #[arg(long)]
    department: Option<String>,
}

impl CertFilter {
    pub(super) fn query(&self) -> Query {
        Query::default()
            .opt("subject_id", self.subject_id.as_ref())
            .opt("subject", self.subject.as_ref())
            .opt("status", self.status.as_ref())
            .opt("profile", self.profile.as_ref())
            .opt("channel", self.channel.as_ref())
            .opt("expiring_before", self.expiring_before.as_ref())
            .opt("department", self.department.as_ref())
    }

    pub(super) fn json(&self) -> Value {
        let mut m = Map::new();
        for (k, v) in [
            ("subject_id", &self.subject_id),
            ("subject", &self.subject),
            ("status", &self.status),
            ("profile", &self.profile),
            ("channel", &self.channel),
            ("expiring_before", &self.expiring_before),
            ("department", &self.department),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        Value::Object(m)
    }
}

/// `certificates …`
#[derive(Debug, Subcommand)]
pub enum CertificatesCmd {
    /// Search the inventory (one page; pass the answer's `next` as --after for the next).
    List {
        #[command(flatten)]
        filter: CertFilter,
        /// Page size (default 100, at most 1000).
        #[arg(long)]
        limit: Option<usize>,
        /// Serial after which the page starts.
        #[arg(long)]
        after: Option<String>,
    },
    /// One certificate record.
    Get {
        /// Serial, hex.
        serial: String,
        /// Print only the certificate, PEM.
        #[arg(long)]
        pem: bool,
    },
    /// Revoke one certificate.
    Revoke {
        /// Serial, hex.
        serial: String,
        /// RFC 5280 reason: unspecified, keyCompromise, affiliationChanged, superseded,
        /// cessationOfOperation, certificateHold, privilegeWithdrawn.
        #[arg(long, default_value = "unspecified")]
        reason: String,
    },
    /// Revoke every certificate matching the filters (at least one filter).
    RevokeMatching {
        #[command(flatten)]
        filter: CertFilter,
        /// RFC 5280 reason.
        #[arg(long, default_value = "unspecified")]
        reason: String,
    },
    /// Move the ACME renewal (ARI) window of certificates, so their clients renew early.
    RenewalWindow {
        /// Serials, hex.
        #[arg(required = true)]
        serials: Vec<String>,
        /// Window start, RFC 3339 (default now).
        #[arg(long)]
        start: Option<String>,
        /// Window end, RFC 3339 (default a day after the start).
        #[arg(long)]
        end: Option<String>,
    },
}

/// `tokens …`
#[derive(Debug, Subcommand)]
pub enum TokensCmd {
    /// Create a token; its secret is shown once.
    Create {
        /// A name saying who uses it.
        #[arg(long)]
        name: String,
        /// Scopes: read, register, issue, revoke, admin (repeat or separate with commas).
        #[arg(
            long = "scope",
            value_name = "SCOPE",
            required = true,
            value_delimiter = ','
        )]
        scopes: Vec<String>,
        /// Lifetime: seconds, or 45m, 12h, 30d (no expiry otherwise).
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token.
    Revoke {
        /// Token id (the part before the dot).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

/// `approvals …`
#[derive(Debug, Subcommand)]
pub enum ApprovalsCmd {
    /// List enrolments by approval status.
    List {
        /// pending (default), approved or rejected.
        #[arg(long)]
        status: Option<String>,
    },
    /// Approve: the client's next retry gets its certificate.
    Approve {
        /// Approval id.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Reject: the client's next retry is refused.
    Reject {
        /// Approval id.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

/// `audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Audit entries after a sequence number.
    List {
        /// Entries with a seq greater than this (default 0).
        #[arg(long)]
        after: Option<u64>,
        /// At most this many (default 100, at most 1000).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Ask the server to check the audit log's hash chain (GET /api/v1/audit/verify); exits
    /// 4 if the chain is broken. (`enrolld audit verify` checks a stopped server's store.)
    VerifyRemote,
}

/// `est-credentials …`
#[derive(Debug, Subcommand)]
pub enum EstCredentialsCmd {
    /// Create an EST credential naming the certificate directly.
    Create {
        /// The certificate's commonName.
        #[arg(long)]
        common_name: String,
        /// A SAN the CSR may request: dns:NAME, email:ADDR, uri:URI, ip:ADDR (repeat).
        #[arg(long = "san", value_name = "SAN")]
        sans: Vec<String>,
        /// EST label.
        #[arg(long)]
        label: Option<String>,
        /// Lifetime: seconds, or 45m, 12h, 30d.
        #[arg(long)]
        expires_in: Option<String>,
        /// Enrolments allowed (default 1).
        #[arg(long)]
        uses: Option<u32>,
    },
}

/// `eab …`
#[derive(Debug, Subcommand)]
pub enum EabCmd {
    /// Create an EAB key for an ACME client.
    Create {
        /// What the account may order, as TYPE:VALUE (dns:host.example, dns:*.corp.example,
        /// email:ann@corp.example, permanent-identifier:SN1); repeat for several.
        #[arg(long = "identifier", value_name = "TYPE:VALUE", required = true)]
        identifiers: Vec<String>,
        /// dns identifiers need an http-01 or dns-01 challenge instead of being pre-authorised.
        #[arg(long)]
        challenge: bool,
        /// Certificate profile of the account's orders.
        #[arg(long)]
        profile: Option<String>,
        /// Lifetime: seconds, or 45m, 12h, 30d.
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// Withdraw an EAB key (its account is deactivated).
    Withdraw {
        /// Key id.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}
