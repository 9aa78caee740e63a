//! A rendered mail as an RFC 5322 message: multipart/alternative text and HTML, `From`,
//! `Reply-To`, `To`, `Subject`, `Date` from the injected clock, a `Message-ID` in the sender's
//! domain, and `Auto-Submitted: auto-generated` (RFC 3834), so that auto-responders stay
//! quiet. No tracking: no images, no per-recipient links beyond the pickup link itself.

use std::time::{Duration, UNIX_EPOCH};

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;

use super::template::Rendered;
use crate::error::{Error, Result};

/// The sender and reply address of every mail.
#[derive(Debug, Clone)]
pub struct Sender {
    /// `From`.
    pub from: Mailbox,
    /// `Reply-To`, if any.
    pub reply_to: Option<Mailbox>,
}

impl Sender {
    /// Parses the configured addresses.
    pub fn parse(from: &str, reply_to: Option<&str>) -> Result<Sender> {
        let mb = |what: &str, v: &str| {
            v.parse::<Mailbox>()
                .map_err(|e| Error::Malformed(format!("mail.{what} {v:?} is not an address: {e}")))
        };
        Ok(Sender {
            from: mb("from", from)?,
            reply_to: reply_to.map(|r| mb("reply_to", r)).transpose()?,
        })
    }

    /// The name mails sign with: the sender's display name, else its domain.
    pub fn organisation(&self) -> String {
        match &self.from.name {
            Some(n) if !n.trim().is_empty() => n.trim().to_owned(),
            _ => self.from.email.domain().to_owned(),
        }
    }
}

/// Whether `addr` is an address a mail can go to.
pub fn valid_recipient(addr: &str) -> bool {
    addr.parse::<Mailbox>().is_ok()
}

/// The message for `to`, written at unix time `now`, with the id `id` (unique per mail, so a
/// retry after a crash carries the same `Message-ID` and a receiver can drop the copy).
pub fn build(
    sender: &Sender,
    to: &str,
    mail: &Rendered,
    id: &str,
    now: i64,
    max_bytes: usize,
) -> Result<Message> {
    let to: Mailbox = to
        .parse()
        .map_err(|e| Error::Malformed(format!("recipient {to:?} is not an address: {e}")))?;
    let mut b = Message::builder()
        .from(sender.from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .date(UNIX_EPOCH + Duration::from_secs(u64::try_from(now).unwrap_or(0)))
        .message_id(Some(format!("<{id}@{}>", sender.from.email.domain())))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ));
    if let Some(r) = &sender.reply_to {
        b = b.reply_to(r.clone());
    }
    let msg = b
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| Error::Internal(format!("cannot build the mail: {e}")))?;
    let size = msg.formatted().len();
    if size > max_bytes {
        return Err(Error::TooLarge(format!(
            "the mail is {size} bytes, more than mail.max_message_bytes ({max_bytes})"
        )));
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered() -> Rendered {
        Rendered {
            subject: "証明書の受け取り".into(),
            text: "本文 https://pki.example/pickup/x.y".into(),
            html: "<p>本文</p>".into(),
        }
    }

    #[test]
    fn a_message_carries_the_headers_of_an_automatic_mail() {
        let s = Sender::parse("PKI <pki@corp.example>", Some("help@corp.example")).unwrap();
        assert_eq!(s.organisation(), "PKI");
        let m = build(
            &s,
            "taro@corp.example",
            &rendered(),
            "abc123",
            1_796_317_200,
            1 << 20,
        )
        .unwrap();
        let text = String::from_utf8(m.formatted()).unwrap();
        for h in [
            "From: PKI <pki@corp.example>",
            "Reply-To: help@corp.example",
            "To: taro@corp.example",
            "Message-ID: <abc123@corp.example>",
            "Auto-Submitted: auto-generated",
            "Date: Thu, 03 Dec 2026 17:00:00 +0000",
            "Content-Type: multipart/alternative",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Type: text/html; charset=utf-8",
        ] {
            assert!(text.contains(h), "{h} in\n{text}");
        }
        // The Japanese subject is encoded (RFC 2047), not sent as raw UTF-8.
        assert!(text.contains("Subject: =?utf-8?"), "{text}");
    }

    #[test]
    fn bad_addresses_and_oversized_mails_are_refused() {
        assert!(Sender::parse("not an address", None).is_err());
        let s = Sender::parse("pki@corp.example", None).unwrap();
        assert_eq!(s.organisation(), "corp.example");
        assert!(build(&s, "nobody", &rendered(), "i", 0, 1 << 20).is_err());
        let e = build(&s, "a@corp.example", &rendered(), "i", 0, 100).unwrap_err();
        assert!(e.to_string().contains("max_message_bytes"), "{e}");
        assert!(valid_recipient("a@corp.example"));
        assert!(!valid_recipient("a@"));
    }
}
