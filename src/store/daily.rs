//! Certificates issued per UTC day and channel group: a counter that the certificate commit
//! bumps in the transaction that records the certificate, so the dashboard's issuance chart
//! reads a few counters instead of scanning certificates, and the figures survive restarts.

/// Seconds of a day: days are UTC days counted from the unix epoch.
pub const DAY_SECS: i64 = 86_400;

/// The UTC day (days since 1970-01-01) of a unix time.
pub fn utc_day(unix: i64) -> i64 {
    unix.div_euclid(DAY_SECS)
}

/// The channels as the dashboard groups them: the protocol a certificate came through, with
/// its variants (`est-simpleenroll`, `est-simplereenroll`, …) together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChannelGroup {
    /// RFC 7030 EST: enrolment, re-enrolment, server key generation, bootstrap.
    Est,
    /// RFC 8555 ACME.
    Acme,
    /// RFC 8894 SCEP, renewals included.
    Scep,
    /// One-time pickup links.
    Pickup,
    /// Everything else (issuance by an administrator, channels added later).
    Other,
}

impl ChannelGroup {
    /// Every group, in the order the dashboard stacks and lists them.
    pub const ALL: [ChannelGroup; 5] = [
        ChannelGroup::Est,
        ChannelGroup::Acme,
        ChannelGroup::Scep,
        ChannelGroup::Pickup,
        ChannelGroup::Other,
    ];

    /// The group of a `CertificateRecord::channel` value.
    pub fn of(channel: &str) -> Self {
        match channel {
            "acme" => ChannelGroup::Acme,
            "pickup" => ChannelGroup::Pickup,
            c if c == "est" || c.starts_with("est-") => ChannelGroup::Est,
            c if c == "scep" || c.starts_with("scep-") => ChannelGroup::Scep,
            _ => ChannelGroup::Other,
        }
    }

    /// The stable name stored in keys and used as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelGroup::Est => "est",
            ChannelGroup::Acme => "acme",
            ChannelGroup::Scep => "scep",
            ChannelGroup::Pickup => "pickup",
            ChannelGroup::Other => "other",
        }
    }

    /// The group named by [`ChannelGroup::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == name)
    }
}

/// Certificates issued on one UTC day through one channel group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyIssued {
    /// The day, days since 1970-01-01 (see [`utc_day`]).
    pub day: i64,
    /// The channel group.
    pub group: ChannelGroup,
    /// How many certificates were recorded.
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_fall_into_their_groups() {
        for (channel, group) in [
            ("est-simpleenroll", ChannelGroup::Est),
            ("est-simplereenroll", ChannelGroup::Est),
            ("est-serverkeygen", ChannelGroup::Est),
            ("est-simpleenroll-bootstrap", ChannelGroup::Est),
            ("acme", ChannelGroup::Acme),
            ("scep", ChannelGroup::Scep),
            ("scep-renewal", ChannelGroup::Scep),
            ("pickup", ChannelGroup::Pickup),
            ("admin", ChannelGroup::Other),
            ("estate", ChannelGroup::Other),
        ] {
            assert_eq!(ChannelGroup::of(channel), group, "{channel}");
            assert_eq!(ChannelGroup::parse(group.as_str()), Some(group));
        }
    }

    #[test]
    fn days_are_utc_days_before_and_after_the_epoch() {
        assert_eq!(utc_day(0), 0);
        assert_eq!(utc_day(DAY_SECS - 1), 0);
        assert_eq!(utc_day(DAY_SECS), 1);
        assert_eq!(utc_day(-1), -1);
    }
}
