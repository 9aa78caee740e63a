//! Closed-loop load: C clients, each on its own keep-alive connection, run one operation after
//! another for S seconds. The report is JSON: completed operations, operations per second,
//! latency percentiles, errors by kind, and the server process's CPU and memory when its pid
//! is known.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client::{Http, OpError, Target};

/// Errors printed on stderr in full, per run; the rest are only counted.
const SHOWN_ERRORS: usize = 5;

/// What one client saw.
pub struct Recorder {
    /// When the measurement ends: no operation starts after it.
    deadline: Instant,
    /// Latency of each completed operation, microseconds.
    latencies_us: Vec<u32>,
    /// Failed operations by kind.
    errors: BTreeMap<String, u64>,
    /// The first few failures, in full.
    shown: Vec<String>,
    /// The client ran out of prepared work (credentials, CSRs) before the deadline.
    pub exhausted: bool,
    /// When its last operation completed (a server that stalls stops moving it).
    last_completion: Option<Instant>,
}

impl Recorder {
    /// Whether another operation may start.
    pub fn running(&self) -> bool {
        !self.exhausted && Instant::now() < self.deadline
    }

    /// Records one operation that started at `start`.
    pub fn record(&mut self, start: Instant, result: Result<(), OpError>) {
        match result {
            Ok(()) => {
                let us = start.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                self.latencies_us.push(us);
                self.last_completion = Some(Instant::now());
            }
            Err(e) => {
                *self.errors.entry(e.kind()).or_default() += 1;
                if self.shown.len() < SHOWN_ERRORS {
                    self.shown.push(e.detail());
                }
            }
        }
    }
}

/// CPU time and memory of a process, from /proc.
#[derive(Debug, Clone, Copy)]
pub struct ProcSample {
    /// User + system CPU seconds so far.
    pub cpu_secs: f64,
    /// Peak resident set (VmHWM), KiB.
    pub peak_rss_kib: u64,
    /// Current resident set (VmRSS), KiB.
    pub rss_kib: u64,
}

/// Reads /proc/<pid>/stat and /proc/<pid>/status (`self` for this process).
pub fn proc_sample(pid: &str) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is the first, utime the
    // 12th and stime the 13th (proc(5) fields 14 and 15).
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(key))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some(ProcSample {
        // USER_HZ is 100 on every Linux architecture this runs on (proc(5)).
        cpu_secs: ticks as f64 / 100.0,
        peak_rss_kib: kib("VmHWM:")?,
        rss_kib: kib("VmRSS:")?,
    })
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Opens `c` connections, then runs `worker(index, http, recorder)` on each for `seconds`, and
/// reports. `extra` goes into the report as it is (workload parameters, setup figures).
pub async fn run<F, Fut>(
    workload: &str,
    target: &Arc<Target>,
    c: usize,
    seconds: f64,
    server_pid: Option<&str>,
    extra: Value,
    worker: F,
) -> Value
where
    F: Fn(usize, Http, Recorder) -> Fut,
    Fut: Future<Output = (Http, Recorder)> + Send + 'static,
{
    // Handshakes happen before the clock starts: keep-alive is what is measured.
    let mut clients = Vec::with_capacity(c);
    let mut connect_errors: BTreeMap<String, u64> = BTreeMap::new();
    for _ in 0..c {
        let mut h = Http::new(target.clone());
        if let Err(e) = h.connect().await {
            eprintln!("{workload}: connect: {}", e.detail());
            *connect_errors.entry(e.kind()).or_default() += 1;
        }
        clients.push(h);
    }
    let server_before = server_pid.and_then(proc_sample);
    let driver_before = proc_sample("self");
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::with_capacity(c);
    for (i, h) in clients.into_iter().enumerate() {
        let rec = Recorder {
            deadline,
            latencies_us: Vec::new(),
            errors: BTreeMap::new(),
            shown: Vec::new(),
            exhausted: false,
            last_completion: None,
        };
        tasks.push(tokio::spawn(worker(i, h, rec)));
    }
    let mut latencies = Vec::new();
    let mut errors = connect_errors;
    let mut shown = Vec::new();
    let (mut requests, mut connects, mut exhausted) = (0u64, 0u64, 0usize);
    let mut last_completion = start;
    for t in tasks {
        match t.await {
            Ok((h, rec)) => {
                latencies.extend_from_slice(&rec.latencies_us);
                for (k, v) in rec.errors {
                    *errors.entry(k).or_default() += v;
                }
                shown.extend(rec.shown);
                requests += h.requests;
                connects += h.connects;
                exhausted += usize::from(rec.exhausted);
                if let Some(t) = rec.last_completion {
                    last_completion = last_completion.max(t);
                }
            }
            Err(e) => *errors.entry(format!("worker-panic: {e}")).or_default() += 1,
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let server_after = server_pid.and_then(proc_sample);
    let driver_after = proc_sample("self");
    for s in shown.iter().take(SHOWN_ERRORS) {
        eprintln!("{workload}: error: {s}");
    }
    latencies.sort_unstable();
    let completed = latencies.len() as u64;
    let mean = latencies
        .iter()
        .map(|&l| u64::from(l))
        .sum::<u64>()
        .checked_div(completed)
        .unwrap_or(0);
    let per_s = completed as f64 / elapsed;
    let mut report = json!({
        "workload": workload,
        "url": target.base,
        "concurrency": c,
        "seconds": round(elapsed, 3),
        "completed": completed,
        "ops_per_sec": round(per_s, 1),
        "latency_us": {
            "p50": percentile(&latencies, 0.50),
            "p95": percentile(&latencies, 0.95),
            "p99": percentile(&latencies, 0.99),
            "max": latencies.last().copied().unwrap_or(0),
            "mean": mean,
        },
        "errors": errors,
        "error_count": errors.values().sum::<u64>(),
        "http_requests": requests,
        "connections": connects,
        "clients_out_of_work": exhausted,
        // Until the last completed operation: differs from `seconds` when the server stalled
        // (requests then end in timeouts).
        "active_seconds": round(last_completion.duration_since(start).as_secs_f64(), 3),
        "ops_per_sec_while_active": round(completed as f64 / last_completion.duration_since(start).as_secs_f64().max(1e-3), 1),
    });
    if let (Some(a), Some(b)) = (driver_before, driver_after) {
        report["driver_cpu_seconds"] = json!(round(b.cpu_secs - a.cpu_secs, 2));
    }
    if let (Some(a), Some(b)) = (server_before, server_after) {
        let cpu = b.cpu_secs - a.cpu_secs;
        report["server"] = json!({
            "cpu_seconds": round(cpu, 2),
            "cpu_seconds_per_1000_ops": if completed > 0 { round(cpu * 1000.0 / completed as f64, 3) } else { 0.0 },
            "cpu_cores_busy": round(cpu / elapsed, 2),
            "peak_rss_kib": b.peak_rss_kib,
            "rss_kib_after": b.rss_kib,
        });
    }
    if let (Value::Object(r), Value::Object(x)) = (&mut report, extra) {
        r.extend(x);
    }
    report
}

/// Rounds to `digits` decimals, for readable JSON.
pub fn round(v: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (v * m).round() / m
}

/// Runs `f(i, http)` for i in 0..n on `c` connections: setup work such as creating
/// credentials. Fails on the first error.
pub async fn setup<T, F, Fut>(
    target: &Arc<Target>,
    c: usize,
    n: usize,
    f: F,
) -> Result<Vec<T>, String>
where
    T: Send + 'static,
    F: Fn(usize, Http) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = (Http, Result<T, OpError>)> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let out: Arc<Mutex<Vec<Option<T>>>> = Arc::new(Mutex::new((0..n).map(|_| None).collect()));
    let f = Arc::new(f);
    let mut tasks = Vec::new();
    for _ in 0..c.clamp(1, n.max(1)) {
        let (next, out, f) = (next.clone(), out.clone(), f.clone());
        let mut h = Http::new(target.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), String>(());
                }
                let (back, r) = f(i, h).await;
                h = back;
                let v = r.map_err(|e| e.detail())?;
                if let Ok(mut o) = out.lock() {
                    o[i] = Some(v);
                }
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let mut o = out
        .lock()
        .map_err(|_| "setup results poisoned".to_owned())?;
    Ok(o.drain(..).flatten().collect())
}
