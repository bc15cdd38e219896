"""Builds RELIABILITY.md (printed on stdout) from the `tasklane check --json` documents
scripts/soak collected.

Usage: reliability.py WORKDIR OPERATIONS DEPLOYMENT... -- BASELINE...
Each NAME has WORKDIR/NAME.json (the figures, a scenario per round).
"""

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

DESCRIPTIONS = {
    "postgres-redis": "3 instances, PostgreSQL, `--consistency redis` (generations in Redis)",
    "postgres-strict": "3 instances, PostgreSQL, `--consistency strict` with a Redis "
    "sharing cache entries",
    "sqlite": "1 instance, SQLite, `--consistency local`",
    "postgres-webhooks": "3 instances, PostgreSQL, `--consistency strict` with a Redis, "
    "a webhook delivering every change (`--webhooks`), 2 clients",
    "baseline-delete-on-write": "the incident's cache-aside (`--cache-design=delete-on-write`), "
    "1 instance, SQLite",
    "baseline-local-counters": "the incident's per-process counters "
    "(`--consistency local`), 2 instances, SQLite",
}


def load(workdir, name):
    with open(os.path.join(workdir, name + ".json")) as f:
        return json.load(f)


SUMMED = [
    "operations",
    "reads",
    "acknowledged_writes",
    "acknowledged_writes_read_back",
    "indeterminate_applied",
    "stale_fill_rounds",
    "rollbacks",
    "events",
    "reconnections",
    "workload_s",
    "judged_s",
]


def merged(document):
    """Each scenario's figures summed over its rounds, in the order they first ran."""
    by_name = {}
    for run in document["scenarios"]:
        f = run["figures"]
        into = by_name.setdefault(
            run["scenario"],
            {"scenario": run["scenario"], "rounds": 0, "inconclusive": [], "figures": {
                **{key: 0 for key in SUMMED},
                "failed": {}, "indeterminate": {}, "violations": {}, "faults": [],
                "webhook_changes": 0, "webhook_repeats": 0, "webhooked": False,
            }},
        )
        into["rounds"] += 1
        if run.get("inconclusive"):
            into["inconclusive"].append(run["inconclusive"])
        total = into["figures"]
        for key in SUMMED:
            total[key] += f[key]
        for key in ("failed", "indeterminate", "violations"):
            for cause, n in f[key].items():
                total[key][cause] = total[key].get(cause, 0) + n
        total["faults"] += f["faults"]
        if f.get("webhook"):
            total["webhooked"] = True
            total["webhook_changes"] += f["webhook"]["changes"]
            total["webhook_repeats"] += f["webhook"]["repeats"]
    return list(by_name.values())


def webhook(figures):
    """A scenario's webhook deliveries (repeats), or `-` without a webhook."""
    if not figures["webhooked"]:
        return "-"
    return f"{number(figures['webhook_changes'])} ({number(figures['webhook_repeats'])})"


def memory(document, rounds=None):
    """The checker's peak memory, MiB, by the end of round `rounds` (all: None)."""
    peaks = [
        run["figures"].get("checker_peak_mib") or 0
        for run in document["scenarios"]
        if rounds is None or run.get("round", 1) <= rounds
    ]
    return max(peaks, default=0)


def number(n):
    return f"{n:,}"


def causes(counts):
    return ", ".join(f"{n} {cause}" for cause, n in sorted(counts.items())) or "none"


def seconds(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return f"{statistics.median(values):.2f} / {max(values):.2f}"


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        memory = round(int(f.readline().split()[1]) / 1048576)
    return f"{os.cpu_count()} cores ({cpu}), {memory} GiB, {platform.system()} {platform.release()}"


def main():
    workdir, target = sys.argv[1], int(sys.argv[2])
    rest = sys.argv[3:]
    split = rest.index("--")
    deployments = [(name, load(workdir, name)) for name in rest[:split]]
    baselines = [(name, load(workdir, name)) for name in rest[split + 1 :]]
    commit = os.environ.get("TASKLANE_SOAK_COMMIT") or subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    out = []
    say = out.append

    runs = [s for _, d in deployments for s in d["scenarios"]]
    total_ops = sum(d["operations"] for _, d in deployments)
    total_violations = sum(d["violations"] for _, d in deployments)
    total_faults = sum(len(s["figures"]["faults"]) for s in runs)
    caught = [(name, d) for name, d in baselines if d["violations"] > 0]

    say("# Reliability")
    say("")
    fixed = os.environ.get("TASKLANE_SOAK_SECONDS")
    setting = (
        f"`TASKLANE_SOAK_SECONDS={fixed}` (a fixed workload per scenario)"
        if fixed
        else f"`TASKLANE_SOAK_OPERATIONS={target}`"
    )
    say(f"Written by `scripts/soak` on {datetime.date.today()} at commit {commit}, with {setting}.")
    say(f"Machine: {machine()}; shared with other work, so times are indicative.")
    say("")
    say(
        f"**{number(total_ops)} operations, {total_faults} faults injected, "
        f"{total_violations} violations** in Tasklane over {len(runs)} scenario runs; "
        f"{len(caught)} of the {len(baselines)} incident designs caught "
        f"({', '.join(number(d['violations']) + ' violations in ' + n for n, d in baselines)})."
    )
    say("")
    modes = [(name, d) for name, d in deployments if name in ("postgres-redis", "postgres-strict")]
    per_mode = ", ".join(f"{number(d['operations'])} in {name}" for name, d in modes)
    if any(d["operations"] < 1_000_000 for name, d in modes):
        say(
            f"Operations per PostgreSQL mode: {per_mode}; short of the 1,000,000 per mode of a "
            "full run."
        )
    else:
        say(f"Operations per PostgreSQL mode: {per_mode}.")
    say("")
    say("Rerun: `TASKLANE_SOAK_OPERATIONS=1000000 scripts/soak` (see the script for the other")
    say("settings). Every figure comes from `tasklane check --json`; each deployment is one check")
    say("of every scenario it can run, round after round (`--rounds`), on throwaway PostgreSQL")
    say("and Redis servers the checker starts, kills, freezes, rolls back and restarts;")
    say("postgres-webhooks adds a webhook delivering every change to the checker's own receiver")
    say("(`--webhooks`), at two clients' writes, a rate one webhook delivers in order on this")
    say("machine (at eight clients' it falls behind).")
    say("")

    say("## Deployments")
    say("")
    say(
        "*Rounds*: every scenario ran this many times over, each judged and let go before the "
        "next. *Checker peak memory*: the checker process's own (`getrusage`, the servers it "
        "starts not counted), once the first round was judged and at the end: a soak's length "
        "comes from its rounds, and the memory is that of its largest scenario."
    )
    say("")
    say(
        "| Deployment | Clients | Workload per scenario | Rounds | Operations | Violations "
        "| Wall time | Judging (share of the workload's time) "
        "| Checker peak memory (first round / end) |"
    )
    say("|---|---|---|---|---|---|---|---|---|")
    for name, d in deployments + baselines:
        rounds = d.get("rounds") or 1
        worked = sum(s["figures"]["workload_s"] for s in d["scenarios"])
        judged = sum(s["figures"]["judged_s"] for s in d["scenarios"])
        share = f"{judged:.2f} s ({100 * judged / worked:.2f}%)" if worked else "-"
        rss = f"{memory(d, 1):.0f} / {memory(d):.0f} MiB"
        say(
            f"| {name}: {DESCRIPTIONS.get(name, name)} | {d['clients']} | {d['workload_s']:.0f} s "
            f"| {rounds} | {number(d['operations'])} | {d['violations']} "
            f"| {d['duration_s']:.0f} s | {share} | {rss} |"
        )
    say("")

    say("## Scenarios")
    say("")
    say(
        "Operations include the read-back. *Failed*: requests without a usable answer, by "
        "cause. *Indeterminate*: writes left without an acknowledgement that may have been "
        "applied (timeouts, lost connections, 5xx), and of those, how many a subscriber's "
        "change proved applied. *Read back*: acknowledged writes whose task the read-back "
        "after the run read (every one must show). *Webhook*: changes the scenario's webhook "
        "delivered, each counted once, and how many arrived again (the receiver fails a "
        "request now and then, and at least once allows repeats). Each row sums the "
        "scenario's rounds."
    )
    say("")
    say(
        "| Deployment | Scenario | Operations | Reads | Acknowledged writes | Read back | Failed "
        "| Indeterminate (applied) | Webhook (repeats) | Faults | Violations |"
    )
    say("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, d in deployments:
        for s in merged(d):
            f = s["figures"]
            indeterminate = sum(f["indeterminate"].values())
            violations = causes(f["violations"]) if f["violations"] else "0"
            if s["inconclusive"]:
                violations += f" (inconclusive: {'; '.join(s['inconclusive'])})"
            say(
                f"| {name} | {s['scenario']} | {number(f['operations'])} | {number(f['reads'])} "
                f"| {number(f['acknowledged_writes'])} | {number(f['acknowledged_writes_read_back'])} "
                f"| {causes(f['failed'])} | {indeterminate} ({f['indeterminate_applied']} applied) "
                f"| {webhook(f)} "
                f"| {len(f['faults'])} | {violations} |"
            )
    say("")

    say("## Recovery after each fault")
    say("")
    say(
        "Seconds from the fault's start (median / worst over its occurrences) until every "
        "instance's `/readyz` said `ready`, until the instances' reads looked in their cache "
        "again rather than bypassing it (their `tasklane_cache_lookups_total`, hits and "
        "misses, grew), and until reads were answered and writes acknowledged again (the "
        "first success after the last failure before the next fault; `-` when none failed). "
        "Readiness and the cache are polled every 0.1 s while the workload goes on, for 30 s "
        "at most and never past the workload (`-`: not seen by then). Each outage lasts 0.8 s "
        "by design (the process stays down, or frozen, that long)."
    )
    say("")
    say(
        "| Deployment | Scenario | Faults | In flight at the fault | Tasks written across "
        "| Ready | Cache in use | Reads answered | Writes acknowledged |"
    )
    say("|---|---|---|---|---|---|---|---|---|")
    for name, d in deployments:
        for s in merged(d):
            faults = s["figures"]["faults"]
            if not faults:
                continue
            say(
                f"| {name} | {s['scenario']} | {len(faults)} "
                f"| {sum(x['in_flight'] for x in faults)} "
                f"| {sum(x['written_across'] for x in faults)} "
                f"| {seconds([x['ready_s'] for x in faults])} "
                f"| {seconds([x['cache_s'] for x in faults])} "
                f"| {seconds([x['reads_s'] for x in faults])} "
                f"| {seconds([x['writes_s'] for x in faults])} |"
            )
    say("")

    say("## The incident's designs")
    say("")
    say(
        "The same verdict, against the `baselines` build's two designs that the incident "
        "(docs/incident.md) was about, in `stale-fill` for as long as a soak scenario: each "
        "must be caught (exit status 1)."
    )
    say("")
    say("| Design | Operations | Stale-fill rounds | Violations |")
    say("|---|---|---|---|")
    for name, d in baselines:
        f = d["scenarios"][0]["figures"] if d["scenarios"] else {}
        say(
            f"| {DESCRIPTIONS.get(name, name)} | {number(d['operations'])} "
            f"| {number(f.get('stale_fill_rounds', 0))} | {causes(f.get('violations', {}))} |"
        )
    say("")

    def total(key, scenario=None):
        return sum(
            s["figures"][key]
            for s in runs
            if scenario is None or s["scenario"] == scenario
        )

    def across(scenario, key):
        return sum(
            x[key] for s in runs if s["scenario"] == scenario for x in s["figures"]["faults"]
        )

    indeterminate = sum(sum(s["figures"]["indeterminate"].values()) for s in runs)
    say("## What the figures mean")
    say("")
    say("Each guarantee was exercised this many times in Tasklane's runs:")
    say("")
    say(
        f"- **Fresh reads after a write** (the incident's interleaving): "
        f"{number(total('stale_fill_rounds', 'stale-fill'))} stale-fill rounds, each a write "
        "acknowledged while a list read that fills the cache was in flight, then a read of "
        "the list and the task on every instance."
    )
    say(
        f"- **No read behind the change feed**: {number(total('rollbacks', 'redis-rollback'))} "
        "redis-rollback rounds in which Redis lost a committed write's announcement and a "
        f"subscriber's receipt of its change was followed by reads; "
        f"{number(total('events'))} changes received by subscribers, and every read that "
        "started after one was judged against it."
    )
    webhook_changes = sum((s["figures"].get("webhook") or {}).get("changes", 0) for s in runs)
    webhook_repeats = sum((s["figures"].get("webhook") or {}).get("repeats", 0) for s in runs)
    say(
        f"- **Webhook delivery**: {number(webhook_changes)} changes delivered to the scenarios' "
        f"webhooks ({number(webhook_repeats)} arrivals repeated after a failed request or a "
        "fault), each judged in order, signed, never sent before the one before it was "
        "acknowledged, and with the state its write produced."
    )
    say(
        f"- **Writes across a fault**: {across('redis-flush', 'written_across')} tasks written "
        f"both before and after a Redis flush, {across('redis-restart', 'written_across')} "
        f"across a Redis restart, {across('redis-pause', 'written_across')} across a pause, "
        f"{across('instance-kill', 'written_across')} across an instance kill, "
        f"{across('postgres-restart', 'written_across')} across a PostgreSQL restart: each "
        "later read had to show the second write."
    )
    say(
        f"- **Kills mid-request**: {across('instance-kill', 'in_flight')} operations in flight "
        f"when an instance was killed, {across('postgres-restart', 'in_flight')} when "
        "PostgreSQL was stopped abruptly."
    )
    say(
        f"- **No lost write**: {number(total('acknowledged_writes'))} acknowledged writes, "
        f"{number(total('acknowledged_writes_read_back'))} of them to tasks the read-back "
        "after their run read (each created task is read once more, a deleted one must "
        "answer 404), and every one judged against it."
    )
    say(
        f"- **Indeterminate writes**: {indeterminate} writes got no acknowledgement yet may "
        f"have been applied; {total('indeterminate_applied')} of them were proved applied by "
        "their change on the feed. None counts as acknowledged; while one is open its task's "
        "state is unknown, so it is never evidence against a read."
    )
    say(
        f"- **Feed continuity**: {total('reconnections')} event streams opened again after "
        "one was cut, each resuming with `Last-Event-ID` without a gap or a repeat."
    )
    say("")
    say("## What the run cannot show")
    say("")
    say(
        "- Zero violations means none was observed in these interleavings, not that none "
        "can happen: the checker judges what its clients saw, a few hundred operations a "
        "second on one machine."
    )
    say(
        "- Only the faults the checker injects: process kills, freezes, restarts, a flush "
        "and a rollback of Redis. Not network partitions between hosts, clock skew, a full "
        "disk, torn or corrupted storage, or a PostgreSQL failover to a replica."
    )
    say(
        "- Everything runs on loopback on a shared 2-core machine: recovery times include "
        "the machine's own load and are polled every 0.1 s; they are not a latency figure."
    )
    say(
        "- A write that got no answer and whose change no subscriber received is counted "
        "indeterminate, not proved unapplied."
    )
    largest = max(
        (s for _, d in deployments for s in d["scenarios"]),
        key=lambda s: s["figures"]["operations"],
    )
    per_operation = (largest["figures"].get("checker_peak_mib") or 0) * 1024 / max(
        1, largest["figures"]["operations"]
    )
    say(
        "- Each scenario is judged on its own: the checker holds one scenario's operations, "
        "changes and deliveries until they are judged (it streams them to `--history` as it "
        "goes), so its memory grows with a scenario's length and not with the number of "
        f"rounds: at most {per_operation:.1f} KiB per operation of the largest scenario here "
        f"({number(largest['figures']['operations'])} operations; the process's whole peak "
        "divided by them). Nothing is judged across scenarios: each marks its own tasks."
    )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(main())
