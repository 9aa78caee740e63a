//! The store contract as tests (STYLE.md habit 11): every guarantee the storage traits'
//! documentation promises — atomic spends, unique serials, identical retries, durability once a
//! commit's ticket resolves, compare-and-swap updates, the revocation rules — checked through
//! the traits alone. A backend proves itself by running [`store_conformance!`] with a function
//! that opens it on a directory; opening the same directory again must see every durable write.

use std::path::Path;
use std::sync::Arc;

use super::{AcmeStore, Store};

mod acme;
mod certificates;
mod mail;
pub(crate) mod records;
mod registry;

pub use acme::*;
pub use certificates::*;
pub use mail::*;
pub use registry::*;

/// Both store traits, as one object.
pub trait FullStore: Store + AcmeStore {}
impl<T: Store + AcmeStore> FullStore for T {}

/// Opens a backend on a directory (the same directory again after a drop: a reopen).
pub type Opener = dyn Fn(&Path) -> Arc<dyn FullStore>;

/// Generates one `#[test]` per guarantee, each on a fresh directory, for the backend that
/// `$open` (a `fn(&Path) -> Arc<dyn FullStore>`) opens.
#[macro_export]
macro_rules! store_conformance {
    ($open:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let dir = tempfile::tempdir().unwrap();
                $crate::store::conformance::$check(&$open, dir.path());
            }
        )*
    };
    ($open:expr) => {
        $crate::store_conformance!($open;
            a_taken_serial_is_refused_and_keeps_its_record,
            a_one_time_credential_is_spent_once_under_concurrency,
            an_identical_retry_returns_the_first_certificate,
            expired_disabled_or_unknown_credentials_pay_for_nothing,
            a_pickup_link_is_spent_once,
            a_certificate_renews_once,
            issuance_for_an_inactive_subject_is_refused,
            a_commit_is_durable_once_its_ticket_resolves,
            holds_final_reasons_and_revocation_status,
            counters_are_monotonic_and_durable,
            the_size_on_disk_is_reported,
            scans_and_indexes,
            issuance_is_counted_per_day_and_channel_group,
            ids_of_credentials_are_unique_and_tokens_deletable,
            subjects_are_unique_and_updated_by_compare_and_swap,
            subjects_scan_in_id_order_from_a_cursor,
            offboarding_revokes_disables_and_withdraws_at_once,
            approvals_are_recorded_once_and_decided_once,
            scep_transactions_keep_their_first_record,
            the_audit_log_is_a_hash_chain,
            audit_checkpoints_are_kept_in_sequence_order,
            accounts_are_unique_by_key_and_by_eab_key,
            orders_change_by_compare_and_swap_on_status,
            only_a_ready_order_is_finalized,
            mail_is_queued_once_per_event_and_taken_when_due,
        );
    };
}
