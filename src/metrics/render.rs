//! The Prometheus text exposition format, version 0.0.4: one `# HELP` and `# TYPE` per
//! family, then its samples; label values escaped (`\\`, `\"`, `\n`).

use std::fmt::Write;

use super::snapshot::{EXPIRY_WINDOWS, STATUSES};
use super::Metrics;

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A bucket bound as Prometheus writes it.
fn bound(b: f64) -> String {
    if b.is_infinite() {
        "+Inf".into()
    } else {
        format!("{b}")
    }
}

pub(super) fn render(m: &Metrics) -> String {
    let mut out = String::with_capacity(4096);
    family(
        &mut out,
        "enrolld_build_info",
        "gauge",
        "Always 1; the version of the running enrolld in a label.",
    );
    let _ = writeln!(
        out,
        "enrolld_build_info{{version=\"{}\"}} 1",
        escape(env!("CARGO_PKG_VERSION"))
    );

    family(
        &mut out,
        "enrolld_certificates_issued_total",
        "counter",
        "Certificates signed and recorded since start, by channel and profile.",
    );
    for c in m.issued() {
        let _ = writeln!(
            out,
            "enrolld_certificates_issued_total{{channel=\"{}\",profile=\"{}\"}} {}",
            escape(&c.channel),
            escape(&c.profile),
            c.count
        );
    }

    family(
        &mut out,
        "enrolld_http_errors_total",
        "counter",
        "Error responses since start, by kind of error.",
    );
    for (kind, n) in m.errors() {
        let _ = writeln!(
            out,
            "enrolld_http_errors_total{{kind=\"{}\"}} {n}",
            escape(kind)
        );
    }

    let name = "enrolld_http_request_duration_seconds";
    family(
        &mut out,
        name,
        "histogram",
        "Time from request to response head, by matched route template.",
    );
    for (route, h) in m.latency() {
        let route = escape(&route);
        for (b, n) in &h.cumulative {
            let _ = writeln!(
                out,
                "{name}_bucket{{route=\"{route}\",le=\"{}\"}} {n}",
                bound(*b)
            );
        }
        let _ = writeln!(out, "{name}_sum{{route=\"{route}\"}} {}", h.sum_seconds);
        let _ = writeln!(out, "{name}_count{{route=\"{route}\"}} {}", h.count);
    }

    if let Some(s) = m.inventory() {
        family(
            &mut out,
            "enrolld_certificates",
            "gauge",
            "Certificates in the store by status (valid, expired, revoked, on_hold).",
        );
        for status in STATUSES {
            let n = s.by_status.get(status).copied().unwrap_or(0);
            let _ = writeln!(out, "enrolld_certificates{{status=\"{status}\"}} {n}");
        }
        family(
            &mut out,
            "enrolld_certificates_expiring",
            "gauge",
            "Valid certificates whose notAfter is within the window (windows nest).",
        );
        for (label, _) in EXPIRY_WINDOWS {
            let n = s
                .expiring
                .iter()
                .find(|(l, _)| *l == label)
                .map_or(0, |(_, n)| *n);
            let _ = writeln!(
                out,
                "enrolld_certificates_expiring{{within=\"{label}\"}} {n}"
            );
        }
        family(
            &mut out,
            "enrolld_certificates_issued_today",
            "gauge",
            "Certificates issued on the scan's UTC day, by channel group (kept in the store).",
        );
        for (group, days) in &s.issued_days {
            let n = days.last().copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "enrolld_certificates_issued_today{{channel_group=\"{group}\"}} {n}"
            );
        }
        family(
            &mut out,
            "enrolld_certificates_issued_30d",
            "gauge",
            "Certificates issued on the scan's UTC day and the 29 before, by channel group.",
        );
        for (group, days) in &s.issued_days {
            let n: u64 = days.iter().sum();
            let _ = writeln!(
                out,
                "enrolld_certificates_issued_30d{{channel_group=\"{group}\"}} {n}"
            );
        }
        family(
            &mut out,
            "enrolld_store_bytes",
            "gauge",
            "Bytes the store occupies on disk.",
        );
        let _ = writeln!(out, "enrolld_store_bytes {}", s.store_bytes);
        family(
            &mut out,
            "enrolld_approvals_pending",
            "gauge",
            "Enrolment requests waiting for an administrator's decision.",
        );
        let _ = writeln!(out, "enrolld_approvals_pending {}", s.pending_approvals);
        if let (Some(t), Some(age)) = (s.crl_this_update, s.crl_age_seconds()) {
            family(
                &mut out,
                "enrolld_crl_this_update_timestamp_seconds",
                "gauge",
                "thisUpdate of the issuing CA's current CRL, unix seconds.",
            );
            let _ = writeln!(out, "enrolld_crl_this_update_timestamp_seconds {t}");
            family(
                &mut out,
                "enrolld_crl_age_seconds",
                "gauge",
                "Seconds from the issuing CA's CRL thisUpdate to the inventory scan.",
            );
            let _ = writeln!(out, "enrolld_crl_age_seconds {age}");
        }
        family(
            &mut out,
            "enrolld_inventory_scan_timestamp_seconds",
            "gauge",
            "When the store gauges above were counted, unix seconds (at most 60 s ago).",
        );
        let _ = writeln!(out, "enrolld_inventory_scan_timestamp_seconds {}", s.at);
    }
    if let Some((queued, sent, failed)) = m.mail_outbox() {
        family(
            &mut out,
            "enrolld_mail_outbox",
            "gauge",
            "Mails in the outbox by status: queued (waiting or retrying), sent, failed (given up).",
        );
        for (status, n) in [("queued", queued), ("sent", sent), ("failed", failed)] {
            let _ = writeln!(out, "enrolld_mail_outbox{{status=\"{status}\"}} {n}");
        }
        family(
            &mut out,
            "enrolld_mail_attempts_total",
            "counter",
            "Mail delivery attempts since start, by outcome.",
        );
        let attempts = m.mail_attempts();
        for outcome in ["sent", "temporary_failure", "permanent_failure"] {
            let n = attempts.get(outcome).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "enrolld_mail_attempts_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn a_histogram_renders_cumulative_buckets_sum_and_count() {
        let m = Metrics::new();
        m.request("/x/{id}", Duration::from_millis(3));
        m.request("/x/{id}", Duration::from_millis(30));
        let text = m.render();
        assert!(text.contains(
            "enrolld_http_request_duration_seconds_bucket{route=\"/x/{id}\",le=\"0.001\"} 0\n"
        ));
        assert!(text.contains(
            "enrolld_http_request_duration_seconds_bucket{route=\"/x/{id}\",le=\"0.005\"} 1\n"
        ));
        assert!(text.contains(
            "enrolld_http_request_duration_seconds_bucket{route=\"/x/{id}\",le=\"+Inf\"} 2\n"
        ));
        assert!(text.contains("enrolld_http_request_duration_seconds_count{route=\"/x/{id}\"} 2\n"));
        assert!(text.contains("# TYPE enrolld_http_request_duration_seconds histogram\n"));
    }
}
