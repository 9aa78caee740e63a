#!/usr/bin/env python3
"""Writes the figures of a bench-full.sh run into docs/benchmarks.md.

    bench-report.py RESULTS_DIR OUT.md RUN_SECONDS

Only the part between the "generated" markers is replaced; text around it (findings written
by hand) is kept. A file without the markers gets them, after its existing text. Sections whose
reports are missing (a BENCH_ONLY=peers run) are left out.
"""
import json
import os
import sys

START = "<!-- bench-full.sh: generated from here -->"
END = "<!-- bench-full.sh: generated up to here -->"

# Issue 7's targets (2 cores, load driver on the same machine).
EST_FLOOR_SHARE = 0.40
EST_P99_MS = 50
ACME_FLOOR_SHARE = 0.25
OCSP_PER_SEC = 20_000
STORE_BEYOND_DER = 2048
STARTUP_SECONDS = 5.0

# Issue 7: ACME on pre-authorised identifiers against Caddy's ACME server, same run.
CADDY_FACTOR = 10

PEER_RUNS = ["acme-http01-c16", "acme-http01-c64", "pebble-http01-c4", "pebble-http01-c16",
             "pebble-reuse-c4", "pebble-reuse-c16", "caddy-http01-c16", "caddy-http01-c64"]


def load(d, name):
    with open(os.path.join(d, name + ".json")) as f:
        return json.load(f)


def load_opt(d, name):
    """A report, or None when this run did not make it."""
    return load(d, name) if os.path.exists(os.path.join(d, name + ".json")) else None


def text(d, name):
    with open(os.path.join(d, name)) as f:
        return f.read().rstrip("\n")


def text_opt(d, name):
    return text(d, name) if os.path.exists(os.path.join(d, name)) else None


def best_rate(reports):
    """Runs that did not stall count with their rate; a stalled one only if none ran clean.
    Returns (rate, the run, whether it ran clean)."""
    clean = [r for r in reports if r["error_count"] == 0]
    if clean:
        r = max(clean, key=lambda r: r["ops_per_sec"])
        return r["ops_per_sec"], r, True
    r = max(reports, key=lambda r: r.get("ops_per_sec_while_active", r["ops_per_sec"]))
    return r.get("ops_per_sec_while_active", r["ops_per_sec"]), r, False


def ms(us):
    return f"{us / 1000:.1f}"


def floor_beside(d, w, c):
    """Mean of the floors measured right before and after a row, or None."""
    key = {"est": "est_enrol", "acme": "acme_order"}.get(w)
    if key is None:
        return None
    got = [f["floor_per_sec"][key] for f in (load_opt(d, f"floor-{when}-{w}-c{c}") for when in ("before", "after")) if f]
    return sum(got) / len(got) if got else None


def verdict(ok):
    return "met" if ok else "**missed**"


def main():
    d, out, run_seconds = sys.argv[1], sys.argv[2], sys.argv[3]
    floor = load_opt(d, "floor")
    crl = load_opt(d, "crl")
    store = load_opt(d, "store")
    server = load_opt(d, "server")
    runs = {(w, c): load(d, f"{w}-c{c}") for w in ("ocsp", "est", "acme") for c in (16, 64)
            if load_opt(d, f"{w}-c{c}") is not None}
    L = []
    a = L.append
    a(START)
    a("")
    a("## Machine")
    a("")
    a("```")
    a(text(d, "machine.final.txt"))
    a("```")
    a("")
    a("<details><summary>lscpu | head -n 20, free -h</summary>")
    a("")
    a("```")
    a(text(d, "lscpu.txt"))
    a("")
    a(text(d, "memory.txt"))
    a("```")
    a("</details>")
    a("")
    fl = floor["floor_per_sec"] if floor else {}
    if floor:
        pc = floor["per_core_per_sec"]
        a("## Crypto floor (aws-lc-rs, in-process)")
        a("")
        a(f"One core, {floor['seconds_per_figure']} s per figure, on the server's own code paths; "
          f"{floor['cores']} cores.")
        a("")
        a("| operation | per core per second |")
        a("|---|---:|")
        names = {
            "csr_parse_verify": "CSR parse + policy + P-256 signature verification (`Csr::parse`)",
            "cert_issue_sign": "certificate build + P-256 signature (`Ca::issue`)",
            "jws_parse_verify_es256": "ACME JWS parse + ES256 verification (`Jws::parse` + `verify`)",
            "es256_verify_raw": "raw ECDSA P-256 verification",
            "es256_sign_raw": "raw ECDSA P-256 signature",
        }
        for k, label in names.items():
            a(f"| {label} | {pc[k]:,.0f} |")
        a("")
        a("| floor | per core | × cores | measured on all cores at once |")
        a("|---|---:|---:|---:|")
        a(f"| EST enrolment (1 CSR verification + 1 certificate signature) | {fl['est_enrol_per_core']:,.0f} | "
          f"{fl['est_enrol']:,.0f} | {fl['est_enrol_measured_all_cores']:,.0f} |")
        a(f"| ACME order (4 JWS verifications + 1 CSR verification + 1 signature) | "
          f"{fl['acme_order_per_core']:,.0f} | {fl['acme_order']:,.0f} | |")
        a("")
    a("## Load: server on the same machine as the driver")
    a("")
    a(f"Each row: C clients, each on one keep-alive HTTP/1.1 + TLS 1.3 connection, {run_seconds} s, "
      "one operation after another (closed loop). Latency is per operation (an ACME order is "
      "four requests). Server CPU and peak RSS come from /proc of the server process.")
    a("")
    a("\"Share of floor\": against the mean of the floors measured right before and after the "
      "row (the machine's speed drifts on this shared VM), in brackets against the floor above, "
      "measured once at the start.")
    a("")
    a("| workload | C | completed | ops/s | p50 ms | p95 ms | p99 ms | errors | share of floor | "
      "server CPU s / 1,000 ops | server cores busy | driver CPU s |")
    a("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    labels = {"ocsp": "OCSP GET (cached statuses)", "est": "EST simpleenroll (durable)",
              "acme": "ACME full order (pre-authorised)"}
    floors = {"est": fl["est_enrol"], "acme": fl["acme_order"]} if fl else {}
    for (w, c), r in runs.items():
        lat = r["latency_us"]
        sv = r.get("server", {})
        share = f"{r['ops_per_sec'] / floors[w]:.1%}" if w in floors else "n/a"
        near = floor_beside(d, w, c)
        if near:
            share = f"{r['ops_per_sec'] / near:.1%} ({share} of the first)"
        a(f"| {labels[w]} | {c} | {r['completed']:,} | {r['ops_per_sec']:,.0f} | {ms(lat['p50'])} | "
          f"{ms(lat['p95'])} | {ms(lat['p99'])} | {r['error_count']} | {share} | "
          f"{sv.get('cpu_seconds_per_1000_ops', '?')} | {sv.get('cpu_cores_busy', '?')} | "
          f"{r.get('driver_cpu_seconds', '?')} |")
    peak = max((r.get("server", {}).get("peak_rss_kib", 0) for r in runs.values()), default=0)
    a("")
    a(f"Server peak RSS over all runs (VmHWM): {peak / 1024:,.0f} MiB.")
    a("")
    peers = [(n, load(d, n)) for n in PEER_RUNS if os.path.exists(os.path.join(d, n + ".json"))]
    caddy_version = text_opt(d, "caddy-version.txt")
    caddy_skipped = text_opt(d, "caddy-skipped.txt")
    if peers:
        a("## ACME with http-01, and peers")
        a("")
        a("The same driver against enrolld with real http-01 validation (test-only validator "
          "settings), against Pebble 2.4.0 (Debian) and against Caddy's `acme_server` "
          f"(Caddy {caddy_version or '2.6.2'}, Debian; smallstep's ACME code on an internal CA), one mock "
          "DNS (pebble-challtestsrv) resolving every name to 127.0.0.1 for all three; the driver "
          "answers http-01 itself (for Caddy on port 80, which its validator always uses). Caddy "
          "2.6.2 has no resolver setting, so it runs in a private mount namespace whose "
          "/etc/resolv.conf names the mock DNS. Pebble runs with `PEBBLE_VA_NOSLEEP=1 "
          "PEBBLE_WFE_NONCEREJECT=0`. Pebble and Caddy: a fresh process (Caddy: fresh data) per "
          "row, 5 s request timeout: a run that stalls shows timeouts, and \"ops/s while "
          "active\" is its rate up to its last completed order.")
        if caddy_skipped:
            a("")
            a(f"Caddy was not run: {caddy_skipped}.")
        a("")
        a("| server | authorisation | C | completed | ops/s | ops/s while active | p50 ms | p99 ms | errors | server cores busy |")
        a("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for (w, c) in ((w, c) for (w, c) in runs if w == "acme"):
            r = runs[(w, c)]
            a(f"| enrolld | pre-authorised (EAB) | {c} | {r['completed']:,} | {r['ops_per_sec']:,.0f} | "
              f"{r.get('ops_per_sec_while_active', r['ops_per_sec']):,.0f} | {ms(r['latency_us']['p50'])} | "
              f"{ms(r['latency_us']['p99'])} | {r['error_count']} | {r.get('server', {}).get('cpu_cores_busy', '?')} |")
        for n, r in peers:
            server_name = {"acme": "enrolld", "pebble": "Pebble", "caddy": "Caddy"}[n.split("-")[0]]
            mode = "http-01, authorizations reused (`PEBBLE_AUTHZREUSE=100`, 4 names)" if "reuse" in n else "http-01"
            errs = ", ".join(f"{k} {v}" for k, v in r["errors"].items()) or "0"
            a(f"| {server_name} | {mode} | {r['concurrency']} | {r['completed']:,} | {r['ops_per_sec']:,.0f} | "
              f"{r.get('ops_per_sec_while_active', r['ops_per_sec']):,.0f} | {ms(r['latency_us']['p50'])} | "
              f"{ms(r['latency_us']['p99'])} | {errs} | {r.get('server', {}).get('cpu_cores_busy', '?')} |")
        a("")
    if crl:
        a("## Revocation: CRL of "
          f"{crl['entries']:,} entries (in-process)")
        a("")
        a(f"- Generation by `StatusService::issuing_crl` (store scan, DER, signature): "
          f"**{crl['crl_generation_ms']:,} ms**; the cached second call: {crl['crl_cached_call_us']} µs.")
        a(f"- DER size {crl['crl_der_bytes']:,} bytes; `x509_parser::parse_x509_crl` lists "
          f"{crl['crl_entries_listed']:,} entries, signature verified: {crl['crl_signature_verified']}.")
        sf = crl["store_fill"]
        a(f"- Filling the store: {sf['issue_and_insert_per_sec']:,.0f} certificates/s issued and inserted "
          f"(all cores, flush every {sf['flush_every']:,}), {sf['revoke_per_sec']:,.0f} revocations/s.")
        a("")
    ro = store["reopen"] if store else None
    if crl and store and server:
        a("## Store")
        a("")
        a("| figure | value |")
        a("|---|---:|")
        for label, r in ((f"{crl['entries']:,} certificates", crl), (f"{store['entries']:,} certificates", store)):
            s = r["store"]
            a(f"| sled bytes per certificate, {label} (in-process) | {s['bytes_per_certificate']:,.0f} "
              f"(DER {s['der_bytes_per_certificate']:,.0f}, beyond DER {s['bytes_per_certificate_beyond_der']:,.0f}) |")
        a(f"| re-open the store with {store['entries']:,} certificates (`SledStore::open`) | {ro['open_ms']:,} ms |")
        a(f"| count them (`count_certificates`, a full scan) | {ro['count_certificates_ms']:,} ms |")
        a(f"| inventory query by subject at that size | {ro['by_subject_query_us']:,} µs |")
        a(f"| certificate by serial at that size | {ro['get_certificate_us']:,} µs |")
        a(f"| server store after the load runs: bytes per issued certificate (also holds unused EST "
          f"credentials, ACME orders, authorizations, accounts) | {server['store_bytes_per_certificate']:,} "
          f"({server['certificates_issued']:,} certificates, {server['store_bytes']:,} bytes) |")
        a(f"| server restart to /healthz with that store | {server['restart_to_healthz_seconds']} s |")
        a("")
    a("## Against issue 7's targets")
    a("")
    acme_rows = {c: runs[("acme", c)] for c in (16, 64) if ("acme", c) in runs}
    acme_best = max((r["ops_per_sec"] for r in acme_rows.values()), default=0)
    a("| target | measured | |")
    a("|---|---|---|")
    if ("est", 64) in runs and fl:
        est64 = runs[("est", 64)]
        f_est = floor_beside(d, "est", 64) or fl["est_enrol"]
        a(f"| EST ≥ {EST_FLOOR_SHARE:.0%} of the floor at C=64 | {est64['ops_per_sec'] / f_est:.1%} "
          f"({est64['ops_per_sec']:,.0f}/s of {f_est:,.0f}/s measured beside it; "
          f"{est64['ops_per_sec'] / fl['est_enrol']:.1%} of the first floor) | "
          f"{verdict(est64['ops_per_sec'] >= EST_FLOOR_SHARE * f_est)} |")
        a(f"| EST p99 ≤ {EST_P99_MS} ms at C=64 | {ms(est64['latency_us']['p99'])} ms | "
          f"{verdict(est64['latency_us']['p99'] <= EST_P99_MS * 1000)} |")
    if acme_rows and fl:
        # The best row's share, each row against the floors beside it.
        c_best, r_best = max(acme_rows.items(), key=lambda kv: kv[1]["ops_per_sec"] / (floor_beside(d, "acme", kv[0]) or fl["acme_order"]))
        f_acme = floor_beside(d, "acme", c_best) or fl["acme_order"]
        a(f"| ACME ≥ {ACME_FLOOR_SHARE:.0%} of the JWS + signature floor | {r_best['ops_per_sec'] / f_acme:.1%} "
          f"(C={c_best}: {r_best['ops_per_sec']:,.0f}/s of {f_acme:,.0f}/s measured beside it; best row "
          f"{acme_best / fl['acme_order']:.1%} of the first floor) | "
          f"{verdict(r_best['ops_per_sec'] >= ACME_FLOOR_SHARE * f_acme)} |")
    reuse = [r for n, r in peers if "reuse" in n]
    if reuse and acme_rows:
        best, _, clean = best_rate(reuse)
        a(f"| ACME pre-authorised ≥ 2× Pebble with reused authorisations | {acme_best / best:.1f}× "
          f"({acme_best:,.0f}/s against Pebble's best {best:,.0f}/s{'' if clean else ' before it stalled'}) | "
          f"{verdict(acme_best >= 2 * best)} |")
    else:
        a("| ACME ≥ 2× Pebble with reused authorisations | Pebble not run | not measured |")
    caddy = [r for n, r in peers if n.startswith("caddy-")]
    if caddy and acme_rows:
        best, top, clean = best_rate(caddy)
        per_c = ", ".join(f"{r['ops_per_sec'] / best:.1f}× at C={c} ({r['ops_per_sec']:,.0f}/s)"
                          for c, r in acme_rows.items())
        http01 = [r["ops_per_sec"] for n, r in peers if n.startswith("acme-http01-")]
        like = (f"; with http-01 on both sides {max(http01) / best:.1f}× ({max(http01):,.0f}/s)"
                if http01 else "")
        a(f"| ACME pre-authorised ≥ {CADDY_FACTOR}× Caddy (http-01), same run | {per_c}, against Caddy's "
          f"best {best:,.0f}/s (C={top['concurrency']}{'' if clean else ', before it stalled'}){like} | "
          f"{verdict(acme_best >= CADDY_FACTOR * best)} |")
    else:
        a(f"| ACME ≥ {CADDY_FACTOR}× Caddy | Caddy not run{': ' + caddy_skipped if caddy_skipped else ''} | not measured |")
    ocsp = [runs[("ocsp", c)]["ops_per_sec"] for c in (16, 64) if ("ocsp", c) in runs]
    if ocsp:
        ocsp_best = max(ocsp)
        a(f"| OCSP ≥ {OCSP_PER_SEC:,}/s | {ocsp_best:,.0f}/s | {verdict(ocsp_best >= OCSP_PER_SEC)} |")
    if store:
        beyond = store["store"]["bytes_per_certificate_beyond_der"]
        startup_s = (ro["open_ms"]) / 1000
        a(f"| store ≤ 2 KiB per certificate beyond its DER | {beyond:,.0f} bytes at {store['entries']:,} | "
          f"{verdict(beyond <= STORE_BEYOND_DER)} |")
        a(f"| {store['entries']:,} certificates start up in ≤ {STARTUP_SECONDS:.0f} s | store open {startup_s:.2f} s | "
          f"{verdict(startup_s <= STARTUP_SECONDS)} |")
    a("")
    a("## Commands")
    a("")
    a("```")
    a("protocol-tests/bench-full.sh   # builds target/release/{enrolld,enrolld-bench}, then:")
    a(text(d, "commands.txt"))
    a("```")
    a("")
    a("<details><summary>Raw JSON reports</summary>")
    a("")
    a("```")
    beside = [f"floor-{when}-{w}-c{c}" for (w, c) in runs if w != "ocsp" for when in ("before", "after")]
    for name in ["floor", "crl", "store"] + [f"{w}-c{c}" for (w, c) in runs] + beside + [n for n, _ in peers] + ["server"]:
        r = load_opt(d, name)
        if r is not None:
            a(f"{name}: " + json.dumps(r, sort_keys=True))
    a("```")
    a("</details>")
    a("")
    a(END)
    generated = "\n".join(L) + "\n"

    head = "# Benchmarks\n\nWritten by `protocol-tests/bench-full.sh` (issue 7).\n\n"
    tail = ""
    if os.path.exists(out):
        with open(out) as f:
            old = f.read()
        if START in old and END in old:
            head = old[: old.index(START)]
            tail = old[old.index(END) + len(END):].lstrip("\n")
        else:
            head = old.rstrip("\n") + "\n\n"
    with open(out, "w") as f:
        f.write(head + generated + ("\n" + tail if tail else ""))


if __name__ == "__main__":
    main()
