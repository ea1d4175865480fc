#!/usr/bin/env python3
"""Turns bench/run's raw points into one table (ratios against nginx) and a JSON file.

Usage: report.py RESULTS.jsonl META.json OUT.json
"""
import json
import statistics
import sys

NAMES = {
    "direct": "direct (no proxy)",
    "proxy-fsync": "mfa-audit-proxy fsync",
    "proxy-flush": "mfa-audit-proxy flush",
    "nginx": "nginx",
    "haproxy": "haproxy",
}
ORDER = ["direct", "proxy-fsync", "proxy-flush", "nginx", "haproxy"]


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def problems_of(raw):
    w = raw["wrk"]
    requests = w["requests"]
    socket_errors = w["errors_connect"] + w["errors_read"] + w["errors_write"] + w["errors_timeout"]
    problems = []
    where = f"round {raw['round']}: "
    if w["non2xx"]:
        problems.append(f"{where}{w['non2xx']} non-2xx answers (last {w['last_bad_status']})")
    if socket_errors:
        problems.append(f"{where}{socket_errors} socket errors")
    if raw["upstream_seen"] < requests:
        problems.append(f"{where}upstream saw {raw['upstream_seen']} of {requests} requests")
    if raw["target"].startswith("proxy-") and raw["workload"] == "delete":
        # received + completed per call; calls in flight at the end may add a few.
        if raw["audit_lines"] < 2 * requests:
            problems.append(f"{where}{raw['audit_lines']} audit records for {requests} deletions")
    return socket_errors, problems


def point(raws):
    """One table row: the median over rounds of each figure; CPU over all rounds."""
    first = raws[0]
    med = lambda key: statistics.median(r["wrk"][key] for r in raws)  # noqa: E731
    requests = sum(r["wrk"]["requests"] for r in raws)
    cpu = None
    if first["cpu_ticks"] is not None and requests > 0:
        cpu = sum(r["cpu_ticks"] for r in raws) / first["clk_tck"] / requests * 1000
    socket_errors, problems = 0, []
    for r in raws:
        e, p = problems_of(r)
        socket_errors += e
        problems += p
    return {
        "target": first["target"],
        "workload": first["workload"],
        "concurrency": first["concurrency"],
        "wrk_threads": first["wrk_threads"],
        "rounds": len(raws),
        "requests": requests,
        "rps": round(med("rps"), 1),
        "rps_rounds": [round(r["wrk"]["rps"], 1) for r in raws],
        "p50_ms": med("p50_us") / 1000,
        "p90_ms": med("p90_us") / 1000,
        "p99_ms": med("p99_us") / 1000,
        "p999_ms": med("p999_us") / 1000,
        "max_ms": max(r["wrk"]["max_us"] for r in raws) / 1000,
        "cpu_s_per_1k": None if cpu is None else round(cpu, 4),
        "upstream_cpu_s_per_1k": round(
            sum(r["upstream_cpu_ticks"] for r in raws) / first["clk_tck"] / max(requests, 1) * 1000, 4
        ),
        "upstream_seen": sum(r["upstream_seen"] for r in raws),
        "audit_records": sum(r["audit_lines"] for r in raws) if first["target"].startswith("proxy-") else None,
        "non2xx": sum(r["wrk"]["non2xx"] for r in raws),
        "socket_errors": socket_errors,
        "valid": not problems,
        "problems": problems,
    }


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def fmt(v, spec, none="-"):
    return none if v is None else format(v, spec)


def main():
    raw, meta, out = load(sys.argv[1]), json.load(open(sys.argv[2])), sys.argv[3]
    groups = {}
    for r in raw:
        groups.setdefault((r["target"], r["workload"], r["concurrency"]), []).append(r)
    points = [point(g) for g in groups.values()]
    index = {(p["target"], p["workload"], p["concurrency"]): p for p in points}
    peak = meta.get("peak_rss_kb", {})
    for p in points:
        direct = index.get(("direct", p["workload"], p["concurrency"]))
        nginx = index.get(("nginx", p["workload"], p["concurrency"]))
        p["added_p99_ms"] = None if direct is None or p["target"] == "direct" else round(p["p99_ms"] - direct["p99_ms"], 3)
        p["rps_vs_nginx"] = ratio(p["rps"], nginx and nginx["rps"])
        p["cpu_vs_nginx"] = ratio(p["cpu_s_per_1k"], nginx and nginx["cpu_s_per_1k"])
        p["peak_rss_kb"] = peak.get(p["target"])
    points.sort(key=lambda p: (p["workload"] != "list", p["concurrency"], ORDER.index(p["target"])))

    header = (
        f"{'workload':<7} {'c':>3} {'target':<22} {'req/s':>8} {'vs nginx':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'p99.9 ms':>8} {'+p99 ms':>8} {'CPU s/1k':>8} {'vs nginx':>8} {'RSS MB':>6} {'ok':>3}"
    )
    lines = [header, "-" * len(header)]
    last = None
    for p in points:
        key = (p["workload"], p["concurrency"])
        if last is not None and key != last:
            lines.append("")
        last = key
        rss = p["peak_rss_kb"]
        lines.append(
            f"{p['workload']:<7} {p['concurrency']:>3} {NAMES[p['target']]:<22} {p['rps']:>8.0f} "
            f"{fmt(p['rps_vs_nginx'], '.2f'):>8} {p['p50_ms']:>7.2f} {p['p99_ms']:>7.2f} {p['p999_ms']:>8.2f} "
            f"{fmt(p['added_p99_ms'], '+.2f'):>8} {fmt(p['cpu_s_per_1k'], '.3f'):>8} {fmt(p['cpu_vs_nginx'], '.2f'):>8} "
            f"{fmt(None if rss is None else rss / 1024, '.1f'):>6} {'yes' if p['valid'] else 'NO':>3}"
        )

    goals = evaluate(index, peak)
    startup = meta.get("startup_ms", [])
    m = meta["machine"]
    summary = [
        "",
        f"machine: {m['nproc']} cores, {m['cpu_model']}, {m['kernel']}, "
        f"{m['mem_total_kb'] // 1024} MB RAM; audit files on {m['audit_fs']}; "
        f"load average before/after: {m['loadavg_before']} / {m['loadavg_after']}",
        f"tools: wrk {meta['tools']['wrk']}, nginx {meta['tools']['nginx']}, haproxy {meta['tools']['haproxy']}, "
        f"rustc {meta['tools']['rustc']}; commit {meta['commit']}; {meta['settings']['duration_s']} s per point, "
        f"median of {meta['settings']['rounds']} interleaved rounds; "
        "wrk, the proxy and the upstream share all cores (nothing pinned)",
        f"mfa-audit-proxy start-up (launch to 'listening on'): median {statistics.median(startup):.1f} ms "
        f"(min {min(startup):.1f}, max {max(startup):.1f}, n={len(startup)})" if startup else "start-up: not measured",
        f"fdatasync of a 601-byte append on the audit file system: median {meta['fdatasync']['median_ms']:.2f} ms, "
        f"p90 {meta['fdatasync']['p90_ms']:.2f} ms, p99 {meta['fdatasync']['p99_ms']:.2f} ms"
        if "fdatasync" in meta else "fdatasync: not measured",
        "audit writer batching (from /metrics): "
        + (", ".join(
            f"{t} {b['records']} records in {b['syncs']} fdatasyncs ({b['records'] / b['syncs']:.1f} records per sync)"
            if b["syncs"]
            else f"{t} {b['records']} records, no fdatasync"
            for t, b in meta.get("audit_batching", {}).items()
        ) or "not reported"),
        f"release binary: {meta['binary_bytes'] / 1e6:.1f} MB as built (debug = 1: line tables), "
        f"{meta['binary_stripped_bytes'] / 1e6:.1f} MB stripped",
        "",
        "goals:",
    ] + [f"  [{'met' if g['met'] else 'MISSED' if g['met'] is False else 'n/a'}] {g['goal']}: {g['detail']}" for g in goals]
    invalid = [p for p in points if not p["valid"]]
    if invalid:
        summary.append("")
        summary.append("INVALID POINTS (not comparable):")
        summary += [f"  {p['target']} {p['workload']} c={p['concurrency']}: {'; '.join(p['problems'])}" for p in invalid]
    text = "\n".join(lines + summary)
    print(text)

    with open(out, "w") as f:
        json.dump(
            {
                "meta": meta,
                "columns": {
                    "rps": "requests per second (wrk: completed requests / duration), median over rounds",
                    "p50_ms/p99_ms/p999_ms": "latency percentiles from wrk's histogram, median over rounds",
                    "added_p99_ms": "p99 through the target minus p99 direct to the upstream, same workload and concurrency",
                    "cpu_s_per_1k": "utime+stime of the target's own processes (nginx: master and workers) per 1,000 requests",
                    "peak_rss_kb": "VmHWM over the target's whole run (nginx: master and workers summed)",
                },
                "points": points,
                "goals": goals,
                "table": text,
            },
            f,
            indent=2,
        )
        f.write("\n")


def evaluate(index, peak):
    goals = []
    concs = sorted({c for (_, _, c) in index})

    def get(t, w, c):
        return index.get((t, w, c))

    for w in ("list", "delete"):
        pairs = [(c, get("proxy-fsync", w, c), get("nginx", w, c)) for c in concs]
        pairs = [(c, a, b) for c, a, b in pairs if a and b]
        if pairs:
            detail = ", ".join(f"c={c}: {a['rps'] / b['rps']:.2f}x" for c, a, b in pairs)
            goals.append({"goal": f"{w}: throughput >= nginx (ours fsync)", "met": all(a["rps"] >= b["rps"] for _, a, b in pairs), "detail": detail})
        pairs = [(c, a, b) for c, a, b in pairs if a["added_p99_ms"] is not None and b["added_p99_ms"] is not None]
        if pairs:
            detail = ", ".join(f"c={c}: {a['added_p99_ms']:+.2f} vs {b['added_p99_ms']:+.2f} ms" for c, a, b in pairs)
            goals.append({"goal": f"{w}: added p99 <= nginx's", "met": all(a["added_p99_ms"] <= b["added_p99_ms"] for _, a, b in pairs), "detail": detail})
        pairs = [(c, get("proxy-fsync", w, c), get("nginx", w, c)) for c in concs]
        pairs = [(c, a, b) for c, a, b in pairs if a and b and a["cpu_s_per_1k"] is not None and b["cpu_s_per_1k"]]
        if pairs:
            detail = ", ".join(f"c={c}: {a['cpu_s_per_1k']:.3f} vs {b['cpu_s_per_1k']:.3f} s ({a['cpu_s_per_1k'] / b['cpu_s_per_1k']:.2f}x)" for c, a, b in pairs)
            goals.append({"goal": f"{w}: CPU per 1,000 requests < nginx's", "met": all(a["cpu_s_per_1k"] < b["cpu_s_per_1k"] for _, a, b in pairs), "detail": detail})
    for t in ("proxy-fsync", "proxy-flush"):
        if t in peak:
            goals.append({"goal": f"peak RSS < 20 MB ({t})", "met": peak[t] < 20 * 1024, "detail": f"{peak[t] / 1024:.1f} MB"})
    top = max(concs) if concs else None
    base = get("proxy-fsync", "list", top)
    for t in ("proxy-fsync", "proxy-flush"):
        d = get(t, "delete", top)
        if base and d:
            r = d["rps"] / base["rps"]
            goals.append({"goal": f"issue #3: audited deletions ({t}) at c={top} >= 80% of pass-through", "met": r >= 0.8, "detail": f"{d['rps']:.0f} / {base['rps']:.0f} req/s = {r:.0%}"})
    return goals


if __name__ == "__main__":
    main()
