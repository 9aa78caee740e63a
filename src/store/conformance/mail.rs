//! The outbox.

use std::path::Path;

use super::records::*;
use super::Opener;
use crate::error::Error;
use crate::states::MailStatus;
use crate::store::{MailRecord, PickupRecord};

fn mail(id: &str, event: &str, due: i64, created: i64) -> MailRecord {
    MailRecord {
        version: 1,
        id: id.into(),
        event: event.into(),
        kind: "pickup".into(),
        to: "a@example.com".into(),
        subject_id: None,
        status: MailStatus::Queued,
        sealed: "sealed".into(),
        attempts: 0,
        created_at: created,
        next_attempt_at: due,
        sent_at: None,
        last_error: None,
    }
}

fn link(id: &str, subject: &crate::ids::SubjectId) -> PickupRecord {
    PickupRecord {
        version: 1,
        id: id.into(),
        secret_hash: "00".into(),
        subject_id: subject.clone(),
        created_at: 0,
        expires_at: 1_000,
        legacy_p12: false,
        spent: None,
        common_name: None,
        sans: None,
    }
}

/// One mail per event; a pickup link and its mail are stored together or not at all; due
/// mails come soonest first and leave the queue when sent or given up; counts follow every
/// change; all of it survives a reopen.
pub fn mail_is_queued_once_per_event_and_taken_when_due(open: &Opener, dir: &Path) {
    let sub = subject("subj-m", "m");
    {
        let s = open(dir);
        s.create_subject(&sub).unwrap();
        let m1 = mail("m1", "reminder:01:30", 100, 10);
        assert!(s.enqueue_mail(&m1).unwrap());
        assert!(!s
            .enqueue_mail(&mail("m1b", "reminder:01:30", 5, 11))
            .unwrap());
        assert!(s.get_mail("m1b").unwrap().is_none());
        assert!(s.has_mail_event("reminder:01:30").unwrap());
        assert!(!s.has_mail_event("reminder:01:7").unwrap());

        // The event is taken: neither the link nor the mail is stored.
        let e = s
            .create_pickup_with_mail(&link("p1", &sub.id), &mail("m2", "reminder:01:30", 50, 12))
            .unwrap_err();
        assert!(matches!(e, Error::Conflict(_)), "{e}");
        assert!(s.get_pickup("p1").unwrap().is_none());
        assert!(s.get_mail("m2").unwrap().is_none());

        let m2 = mail("m2", "pickup:p1", 50, 12);
        s.create_pickup_with_mail(&link("p1", &sub.id), &m2)
            .unwrap();
        assert!(s.get_pickup("p1").unwrap().is_some());
        assert_eq!(s.get_mail("m2").unwrap().unwrap(), m2);
        // The link id is taken: nothing of the second try is stored.
        assert!(s
            .create_pickup_with_mail(&link("p1", &sub.id), &mail("m3", "pickup:p1b", 1, 13))
            .is_err());
        assert!(s.get_mail("m3").unwrap().is_none());

        assert!(s.due_mails(49, 10).unwrap().is_empty());
        let due: Vec<String> = s
            .due_mails(100, 10)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(due, ["m2", "m1"]);
        assert_eq!(s.due_mails(100, 1).unwrap().len(), 1);
        assert_eq!(s.count_mails().unwrap(), (2, 0, 0));

        // A retry later, then sent; a stale update changes nothing.
        let mut later = m1.clone();
        later.attempts = 1;
        later.next_attempt_at = 500;
        assert!(s.update_mail(&m1, &later).unwrap());
        assert!(!s.update_mail(&m1, &later).unwrap());
        let due: Vec<String> = s
            .due_mails(100, 10)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(due, ["m2"]);
        let mut sent = m2.clone();
        sent.status = MailStatus::Sent;
        sent.sent_at = Some(60);
        sent.sealed.clear();
        assert!(s.update_mail(&m2, &sent).unwrap());
        let mut failed = later.clone();
        failed.status = MailStatus::Failed;
        failed.last_error = Some("550 no such user".into());
        assert!(s.update_mail(&later, &failed).unwrap());
        assert!(s.due_mails(i64::MAX - 1, 10).unwrap().is_empty());
        assert_eq!(s.count_mails().unwrap(), (0, 1, 1));
        let recent: Vec<String> = s
            .recent_mails(10)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(recent, ["m2", "m1"]);
        s.flush().unwrap();
    }
    let s = open(dir);
    assert_eq!(s.count_mails().unwrap(), (0, 1, 1));
    assert_eq!(
        s.get_mail("m1").unwrap().unwrap().status,
        MailStatus::Failed
    );
    assert_eq!(s.get_mail("m2").unwrap().unwrap().sent_at, Some(60));
    assert!(s.has_mail_event("pickup:p1").unwrap());
    assert!(!s.enqueue_mail(&mail("m9", "pickup:p1", 1, 1)).unwrap());
}
