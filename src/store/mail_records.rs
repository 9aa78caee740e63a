//! The outbox's record: one mail to send, sealed, with its delivery state.

use serde::{Deserialize, Serialize};

use crate::ids::SubjectId;
use crate::states::MailStatus;

/// One mail in the outbox (`src/mail/`). The message itself is sealed (AES-256-GCM under a key
/// derived from the server secret), because a pickup mail carries a one-time link that nothing
/// else keeps in the clear; it is erased once the relay has accepted the mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailRecord {
    /// Record layout version.
    pub version: u32,
    /// Random id.
    pub id: String,
    /// What caused the mail, unique across the outbox (`pickup:<link id>`,
    /// `reminder:<serial>:<days>`): the same event never queues a second mail.
    pub event: String,
    /// `pickup` or `reminder`, for the console and the audit log.
    pub kind: String,
    /// The recipient's address.
    pub to: String,
    /// The person or device the mail is about.
    #[serde(default)]
    pub subject_id: Option<SubjectId>,
    /// Where it stands.
    pub status: MailStatus,
    /// The rendered message (subject, text, HTML), sealed; empty once sent or given up.
    pub sealed: String,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// When it was queued, unix seconds.
    pub created_at: i64,
    /// When the next attempt is due, unix seconds (queued mails).
    pub next_attempt_at: i64,
    /// When the relay accepted it.
    #[serde(default)]
    pub sent_at: Option<i64>,
    /// The last failure, as the relay or the connection reported it.
    #[serde(default)]
    pub last_error: Option<String>,
}
