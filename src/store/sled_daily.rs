//! The `issued_per_day` tree on sled: (UTC day ‖ channel group) → count, big-endian u64.
//! Bumped inside the certificate commit's transaction; read by day range; recounted from the
//! certificates when a backup is restored or a store written before the tree existed opens.

use std::collections::BTreeMap;

use sled::transaction::{TransactionalTree, UnabortableTransactionError};

use super::daily::{utc_day, ChannelGroup, DailyIssued};
use super::sled_store::be_u64;
use super::CertificateRecord;
use crate::error::{Error, Result};

/// Name of the tree (the restore recounts it rather than copying it).
pub(super) const TREE: &str = "issued_per_day";

/// Meta key present once the tree counts every certificate of the store.
pub(super) const COUNTED: &[u8] = b"issued_per_day_counted";

/// The day, offset so that days before 1970 sort first, then the group's name.
fn key(day: i64, group: ChannelGroup) -> Vec<u8> {
    let mut k = ((day as u64) ^ (1 << 63)).to_be_bytes().to_vec();
    k.extend_from_slice(group.as_str().as_bytes());
    k
}

/// The day and group of a key; `None` for a key this layout does not write.
fn parse_key(k: &[u8]) -> Option<(i64, ChannelGroup)> {
    let (day, group) = k.split_first_chunk::<8>()?;
    let day = (u64::from_be_bytes(*day) ^ (1 << 63)) as i64;
    let group = ChannelGroup::parse(std::str::from_utf8(group).ok()?)?;
    Some((day, group))
}

/// Inside the commit's transaction: one more certificate on its issue day and channel group.
pub(super) fn count_in(
    tree: &TransactionalTree,
    cert: &CertificateRecord,
) -> std::result::Result<(), UnabortableTransactionError> {
    let k = key(utc_day(cert.issued_at), ChannelGroup::of(&cert.channel));
    let n = be_u64(tree.get(&k)?);
    tree.insert(k, &(n + 1).to_be_bytes())?;
    Ok(())
}

/// The counts of days `first..=last`, day then group order.
pub(super) fn read(tree: &sled::Tree, first: i64, last: i64) -> Result<Vec<DailyIssued>> {
    if first > last {
        return Ok(Vec::new());
    }
    let start = key(first, ChannelGroup::ALL[0])[..8].to_vec();
    let mut out = Vec::new();
    for kv in tree.range(start..) {
        let (k, v) = kv?;
        let (day, group) =
            parse_key(&k).ok_or_else(|| Error::Internal("malformed issued_per_day key".into()))?;
        if day > last {
            break;
        }
        out.push(DailyIssued {
            day,
            group,
            count: be_u64(Some(v)),
        });
    }
    // Keys sort by group name; callers get the groups' own order.
    out.sort_by_key(|d| (d.day, d.group));
    Ok(out)
}

/// Replaces the tree's counts with a count of every certificate in `certs`, and marks the
/// store counted in `meta`. Only while nothing else writes (opening, restoring).
pub(super) fn recount(certs: &sled::Tree, tree: &sled::Tree, meta: &sled::Tree) -> Result<()> {
    let mut counts: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    for kv in certs.iter() {
        let (_, v) = kv?;
        let c = CertificateRecord::from_bytes(&v)?;
        *counts
            .entry(key(utc_day(c.issued_at), ChannelGroup::of(&c.channel)))
            .or_default() += 1;
    }
    tree.clear()?;
    for (k, n) in counts {
        tree.insert(k, &n.to_be_bytes())?;
    }
    meta.insert(COUNTED, &[1u8])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sort_by_day() {
        for (day, group) in [
            (0, ChannelGroup::Est),
            (20_000, ChannelGroup::Other),
            (-3, ChannelGroup::Pickup),
        ] {
            assert_eq!(parse_key(&key(day, group)), Some((day, group)));
        }
        assert!(key(-1, ChannelGroup::Scep) < key(0, ChannelGroup::Acme));
        assert!(key(5, ChannelGroup::Scep) < key(6, ChannelGroup::Acme));
        assert_eq!(parse_key(b"short"), None);
    }
}
