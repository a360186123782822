#!/usr/bin/env python3
"""Unit tests of metro-alerts.yml with promtool: each case feeds series and
says which alerts fire (with their rendered summary) or that none does.

promtool compares alerts with their annotations exactly; a case writes the
labels and the summary (its template rendered by hand, so the templates are
tested), and this script copies the static description and runbook from the
rules file. Run: python3 alert_tests.py [promtool]; exit status is promtool's.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RULES = os.path.join(HERE, "metro-alerts.yml")


def alert(name, summary, **labels):
    return (name, summary, labels)


# (what it checks, input series {series: values}, eval time, alert name, expected alerts)
CASES = [
    ("a target down for more than a minute",
     {'up{job="metro-broker",instance="127.0.0.1:7709"}': "1 1 0 0 0"}, "4m", "MetroTargetDown",
     [alert("MetroTargetDown", "metro-broker at 127.0.0.1:7709 does not answer its /metrics",
            severity="critical", job="metro-broker", instance="127.0.0.1:7709")]),
    ("a target down for less than its minute: pending only",
     {'up{job="metro-broker",instance="127.0.0.1:7709"}': "1 1 1 1 0"}, "4m", "MetroTargetDown", []),
    ("a child restarted every 3 minutes",
     {'metro_up_child_restarts_total{job="metro-up",child="profiles-1"}': "0 0 0 1 1 1 2 2 2 3 3 3 4 4 4 5 5 5"}, "17m",
     "MetroChildRestarting",
     [alert("MetroChildRestarting", "metro up restarted profiles-1 5 times in 15 minutes",
            severity="warning", job="metro-up", child="profiles-1")]),
    ("one restart (a kill, a full disk) is no alert",
     {'metro_up_child_restarts_total{job="metro-up",child="broker"}': "0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1"}, "17m",
     "MetroChildRestarting", []),
    ("instances expiring, one a minute",
     {'metro_registry_expired_total{job="metro-registry"}': "0+1x15"}, "12m", "MetroInstancesExpiring",
     [alert("MetroInstancesExpiring", "10 service instances lost their lease in 10 minutes",
            severity="warning", job="metro-registry")]),
    ("an instance expiring now and then is no alert",
     {'metro_registry_expired_total{job="metro-registry"}': "0 0 0 1 1 1 1 1 1 1 1 1"}, "11m",
     "MetroInstancesExpiring", []),
    ("10% of the broker's requests refused",
     {'metro_broker_received_total{job="metro-broker"}': "0+600x20",
      'metro_broker_rejected_total{job="metro-broker"}': "0+60x20"}, "12m", "MetroBrokerRefusingRequests",
     [alert("MetroBrokerRefusingRequests", "The broker answers 10% of its requests with ERROR",
            severity="critical", job="metro-broker")]),
    ("1% refused (bad clients now and then) is no alert",
     {'metro_broker_received_total{job="metro-broker"}': "0+600x20",
      'metro_broker_rejected_total{job="metro-broker"}': "0+6x20"}, "12m", "MetroBrokerRefusingRequests", []),
    ("live events dropped for a slow subscriber",
     {'metro_broker_dropped_total{job="metro-broker",cause="events_hwm"}': "0 0 0 40 40 40",
      'metro_broker_dropped_total{job="metro-broker",cause="publish_malformed"}': "0 0 0 9 9 9"}, "5m",
     "MetroLiveEventsDropped",
     [alert("MetroLiveEventsDropped", "40 live events dropped for slow subscribers in 10 minutes",
            severity="warning", job="metro-broker", cause="events_hwm")]),
    ("a group falling behind for 10 minutes",
     {'metro_group_lag{job="metro-broker",group="profiles"}': "0+200x30"}, "20m", "MetroGroupLagGrowing",
     [alert("MetroGroupLagGrowing", "Consumer group profiles is 4000 events behind, and falling further",
            severity="warning", job="metro-broker", group="profiles")]),
    ("a group behind but catching up is no alert",
     {'metro_group_lag{job="metro-broker",group="profiles"}': "6000-100x30"}, "20m", "MetroGroupLagGrowing", []),
    ("a group with events and no member",
     {'metro_group_members{job="metro-broker",group="old-reports"}': "0x10",
      'metro_group_lag{job="metro-broker",group="old-reports"}': "12x10"}, "8m", "MetroGroupWithoutMembers",
     [alert("MetroGroupWithoutMembers", "Consumer group old-reports has events waiting and no member",
            severity="warning", job="metro-broker", group="old-reports")]),
    ("a group with a member is no alert",
     {'metro_group_members{job="metro-broker",group="profiles"}': "1x10",
      'metro_group_lag{job="metro-broker",group="profiles"}': "12x10"}, "8m", "MetroGroupWithoutMembers", []),
    ("a group stopped before a damaged record",
     {'metro_group_stalled{job="metro-broker",group="recommendations"}': "0 0 1 1 1 1"}, "5m", "MetroGroupStalled",
     [alert("MetroGroupStalled",
            "Consumer group recommendations is stopped before a journal record it cannot read",
            severity="critical", job="metro-broker", group="recommendations")]),
    ("a group that read on after a skip is no alert",
     {'metro_group_stalled{job="metro-broker",group="recommendations"}': "0 1 1 0 0 0"}, "5m", "MetroGroupStalled",
     []),
    ("the scrub found a damaged segment",
     {'metro_broker_journal_damaged_segments{job="metro-broker"}': "0 0 1 1 1"}, "4m", "MetroJournalDamaged",
     [alert("MetroJournalDamaged", "The journal scrub found 1 damaged segment(s)",
            severity="critical", job="metro-broker")]),
    ("a whole journal is no alert",
     {'metro_broker_journal_damaged_segments{job="metro-broker"}': "0x10"}, "8m", "MetroJournalDamaged", []),
    ("a replay that reached a damaged record",
     {'metro_broker_replays_damaged_total{job="metro-broker"}': "0 0 0 0 0 1 1 1 1 1 1 1 1 1 1 1"}, "15m",
     "MetroReplayReachedDamagedRecord",
     [alert("MetroReplayReachedDamagedRecord", "Replays reached a damaged journal record",
            severity="critical", job="metro-broker")]),
    ("no new damaged replays is no alert",
     {'metro_broker_replays_damaged_total{job="metro-broker"}': "1x20"}, "15m",
     "MetroReplayReachedDamagedRecord", []),
    ("dead letters",
     {'metro_group_dead_lettered_total{job="metro-broker",group="video-processing"}': "0 0 0 0 0 3 3 3 3 3 3 3 3 3 3 3"},
     "15m", "MetroDeadLetters",
     [alert("MetroDeadLetters", "3 events of group video-processing were dead-lettered in 15 minutes",
            severity="warning", job="metro-broker", group="video-processing")]),
    ("no new dead letters is no alert",
     {'metro_group_dead_lettered_total{job="metro-broker",group="video-processing"}': "3x20"}, "15m",
     "MetroDeadLetters", []),
    ("10 redeliveries a second for 10 minutes",
     {'metro_group_redelivered_total{job="metro-broker",group="recommendations"}': "0+600x20"}, "16m",
     "MetroRedeliveriesHigh",
     [alert("MetroRedeliveriesHigh", "Group recommendations redelivers 10 events a second",
            severity="warning", job="metro-broker", group="recommendations")]),
    ("2% of a route's answers are 5xx",
     {'metro_gateway_requests_total{job="metro-gateway",route="/v1/users/{id}",method="GET",status="200"}': "0+980x15",
      'metro_gateway_requests_total{job="metro-gateway",route="/v1/users/{id}",method="GET",status="503"}': "0+20x15",
      'metro_gateway_requests_total{job="metro-gateway",route="/v1/videos",method="POST",status="202"}': "0+100x15"},
     "12m", "MetroGatewayErrors",
     [alert("MetroGatewayErrors", "/v1/users/{id} answers 2% of its requests with 5xx",
            severity="critical", route="/v1/users/{id}")]),
    ("0.5% 5xx is no alert",
     {'metro_gateway_requests_total{job="metro-gateway",route="/v1/users/{id}",method="GET",status="200"}': "0+995x15",
      'metro_gateway_requests_total{job="metro-gateway",route="/v1/users/{id}",method="GET",status="504"}': "0+5x15"},
     "12m", "MetroGatewayErrors", []),
    ("the gateway sheds 2 requests a second for 10 minutes",
     {'metro_gateway_shed_total{job="metro-gateway",reason="concurrency-limit",service="profiles"}': "0+120x20"},
     "16m", "MetroGatewayShedding",
     [alert("MetroGatewayShedding", "The gateway sheds 2 requests/s for profiles (concurrency-limit)",
            severity="warning", service="profiles", reason="concurrency-limit")]),
    ("a p99 in the 1 to 2.5 s bucket",
     {'metro_gateway_request_duration_seconds_bucket{job="metro-gateway",route="/v1/users/{id}/recommendations",le="0.5"}': "0+50x20",
      'metro_gateway_request_duration_seconds_bucket{job="metro-gateway",route="/v1/users/{id}/recommendations",le="1"}': "0+60x20",
      'metro_gateway_request_duration_seconds_bucket{job="metro-gateway",route="/v1/users/{id}/recommendations",le="2.5"}': "0+100x20",
      'metro_gateway_request_duration_seconds_bucket{job="metro-gateway",route="/v1/users/{id}/recommendations",le="+Inf"}': "0+100x20"},
     "16m", "MetroGatewaySlow",
     [alert("MetroGatewaySlow", "The p99 of /v1/users/{id}/recommendations is 2.463s",
            severity="warning", route="/v1/users/{id}/recommendations")]),
    ("a client with an unknown key",
     {'metro_auth_refused_total{job="metro-broker",reason="unknown_key"}': "0 0 1 1",
      'metro_auth_refused_total{job="metro-broker",reason="bad_mechanism"}': "0 0 5 5"}, "3m", "MetroUnknownKeys",
     [alert("MetroUnknownKeys", "1 CURVE connections with a key not on the allow-list",
            severity="warning", job="metro-broker", reason="unknown_key")]),
]


def static_annotations():
    """description and runbook of each alert, read from the rules file by its
    own fixed layout (`description: >-` then an indented paragraph): a stock
    Debian's python3 has no YAML module."""
    out = {}
    name = None
    lines = open(RULES).read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("- alert: "):
            name = stripped[len("- alert: "):]
            out[name] = {}
        elif name and stripped.startswith("description: >-"):
            indent = len(lines[i + 1]) - len(lines[i + 1].lstrip())
            words = []
            i += 1
            while i < len(lines) and lines[i].strip() and len(lines[i]) - len(lines[i].lstrip()) >= indent:
                words.append(lines[i].strip())
                i += 1
            out[name]["description"] = " ".join(words)
            continue
        elif name and stripped.startswith("runbook: "):
            out[name]["runbook"] = json.loads(stripped[len("runbook: "):])
        i += 1
    return out


def main():
    promtool = sys.argv[1] if len(sys.argv) > 1 else "promtool"
    static = static_annotations()
    tests = []
    for what, series, at, name, expected in CASES:
        exp = []
        for alertname, summary, labels in expected:
            annotations = dict(static[alertname])
            annotations["summary"] = summary
            exp.append({"exp_labels": labels, "exp_annotations": annotations})
        tests.append({
            "name": what,
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in series.items()],
            "alert_rule_test": [{"eval_time": at, "alertname": name, "exp_alerts": exp}],
        })
    document = {"rule_files": [RULES], "evaluation_interval": "1m", "tests": tests}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        json.dump(document, f, indent=1)  # JSON is YAML
        path = f.name
    try:
        result = subprocess.run([promtool, "test", "rules", path])
    finally:
        os.unlink(path)
    print(f"{len(CASES)} cases of {len(static)} alerts")
    missing = set(static) - {c[3] for c in CASES}
    if missing:
        print("alerts without a case: " + ", ".join(sorted(missing)))
        return 1
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
