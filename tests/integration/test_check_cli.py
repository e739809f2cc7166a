"""`pharos check` against the local target server and dnsmasq: every outcome, every failure
reason, the JSON and table outputs and the exit codes.

Contract (docs/standalone.md, docs/monitor-reference.md): `pharos check [-o table|json] [--concurrency N] PATH...` runs
every monitor once; JSON is an array of results with namespace, name, type, target, outcome
(up|degraded|down|error), statusCode, timings{dnsUs,connectUs,tlsUs,firstByteUs,transferUs,
totalUs}, certExpiry, certEarliestExpiry, failedAssertion{type,expected,actual,message}|null,
error, attempts, dnsRecords. Exit 0 when none is down/error, 1 when one is, 2 for invalid input
(nothing is checked then). The test CA is trusted through PHAROS_CA_FILE.

Error texts are matched loosely (substrings, case-insensitive) where the wording is not part of
the contract.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse

import pytest

import dns_server
import pharos
from certs import parse_rfc3339

TIMING_KEYS = {"dnsUs", "connectUs", "tlsUs", "firstByteUs", "transferUs", "totalUs"}
RESULT_KEYS = {"namespace", "name", "type", "target", "outcome", "statusCode", "timings",
               "certExpiry", "certEarliestExpiry", "failedAssertion", "error", "attempts",
               "dnsRecords"}


def http_monitor(name: str, url: str, timeout: str = "5s", http: dict | None = None,
                 **spec) -> dict:
    return pharos.monitor(name, "http", timeout=timeout, http={"url": url, **(http or {})},
                          **spec)


def tcp_monitor(name: str, port: int, tls: bool = False, timeout: str = "5s", **spec) -> dict:
    tcp = {"host": "127.0.0.1", "port": port}
    if tls:
        tcp["tls"] = True
    return pharos.monitor(name, "tcp", timeout=timeout, tcp=tcp, **spec)


def dns_monitor(name: str, dns, query_name: str, record_type: str = "A", timeout: str = "5s",
                **spec) -> dict:
    return pharos.monitor(name, "dns", timeout=timeout,
                          dns={"name": query_name, "recordType": record_type,
                               "server": dns.server}, **spec)


def error_text(result: dict) -> str:
    return (result.get("error") or "").lower()


def assert_down_by_transport(result: dict, *patterns: str) -> None:
    """Down because of the transport: an error naming the cause, no failed assertion."""
    assert result["outcome"] == "down", result
    assert result["failedAssertion"] is None, result
    for pattern in patterns:
        assert re.search(pattern, error_text(result)), (pattern, result)


def assert_close_to(moment_text: str | None, expected_text: str, seconds: float = 2) -> None:
    assert moment_text, "expected a time, got none"
    difference = parse_rfc3339(moment_text) - parse_rfc3339(expected_text)
    assert abs(difference.total_seconds()) <= seconds, (moment_text, expected_text)


# --- the result document ------------------------------------------------------------------------


def test_up_result_has_every_field(cli, target, tag):
    url = target.url(f"/status/200?tag={tag}")
    run = cli.check(http_monitor("plain-up", url))
    assert run.returncode == 0, run.completed.describe()
    result = run.only()
    assert RESULT_KEYS <= set(result), sorted(RESULT_KEYS - set(result))
    assert set(result["timings"]) >= TIMING_KEYS
    assert result["namespace"] == "default"
    assert result["name"] == "plain-up"
    assert result["type"] == "http"
    assert result["target"] == url
    assert result["outcome"] == "up"
    assert result["statusCode"] == 200
    assert result["failedAssertion"] is None
    assert not result["error"]
    assert result["attempts"] == 1
    assert result["certExpiry"] is None and result["certEarliestExpiry"] is None
    timings = result["timings"]
    assert all(isinstance(timings[key], int) and timings[key] >= 0 for key in TIMING_KEYS)
    assert timings["totalUs"] > 0 and timings["connectUs"] > 0 and timings["firstByteUs"] > 0
    assert timings["tlsUs"] == 0  # plain http has no TLS phase
    assert timings["totalUs"] >= timings["connectUs"]
    assert target.count(tag) == 1  # checked exactly once


def test_namespace_is_reported(cli, target):
    run = cli.check(http_monitor("in-shop", target.url("/status/200"))
                    | {"metadata": {"name": "in-shop", "namespace": "shop"}})
    assert run.only()["namespace"] == "shop"


def test_all_assertion_kinds_passing_is_up(cli, target):
    run = cli.check(http_monitor("health", target.url("/health"), assertions=[
        {"type": "statusCode", "op": "eq", "value": "200"},
        {"type": "header", "name": "content-type", "op": "contains", "value": "json"},
        {"type": "body", "op": "contains", "value": '"status":"ok"'},
        {"type": "jsonPath", "path": "$.checks.db", "op": "eq", "value": "up"},
        {"type": "latency", "op": "lt", "value": "5s"},
    ]))
    assert run.returncode == 0, run.completed.describe()
    assert run.only()["outcome"] == "up"


def test_latency_assertion_compares_durations(cli, target):
    """A 50 ms answer is below 5s and 1s and above 10ms, whatever units are used inside."""
    url = target.url("/slow/first-byte?ms=50")
    run = cli.check([
        http_monitor("lt-5s", url, assertions=[{"type": "latency", "op": "lt", "value": "5s"}]),
        http_monitor("lte-1000ms", url,
                     assertions=[{"type": "latency", "op": "lte", "value": "1000ms"}]),
        http_monitor("gt-10ms", url,
                     assertions=[{"type": "latency", "op": "gt", "value": "10ms"}]),
        http_monitor("lt-10ms", url,
                     assertions=[{"type": "latency", "op": "lt", "value": "10ms"}]),
    ])
    outcomes = {result["name"]: result["outcome"] for result in run.results}
    assert outcomes == {"lt-5s": "up", "lte-1000ms": "up", "gt-10ms": "up", "lt-10ms": "down"}, (
        run.completed.describe())


def test_expected_non_2xx_status_is_up(cli, target):
    """A statusCode assertion replaces the default 2xx rule (OpenStatus #2461)."""
    run = cli.check(http_monitor("want-404", target.url("/status/404"), assertions=[
        {"type": "statusCode", "op": "eq", "value": "404"}]))
    assert run.returncode == 0, run.completed.describe()
    assert run.only()["outcome"] == "up" and run.only()["statusCode"] == 404


def test_non_2xx_without_assertions_is_down(cli, target):
    run = cli.check(http_monitor("plain-500", target.url("/status/500")))
    assert run.returncode == 1
    result = run.only()
    assert result["outcome"] == "down" and result["statusCode"] == 500


# --- degraded -----------------------------------------------------------------------------------


def test_slow_first_byte_beyond_degraded_after_is_degraded(cli, target):
    run = cli.check([
        http_monitor("slow", target.url("/slow/first-byte?ms=700"), degradedAfter="200ms"),
        http_monitor("quick", target.url("/status/200"), degradedAfter="4s"),
    ])
    assert run.returncode == 0, "degraded is not a failure\n" + run.completed.describe()
    slow = run.by_name("slow")
    assert slow["outcome"] == "degraded"
    assert slow["statusCode"] == 200 and slow["failedAssertion"] is None
    assert slow["timings"]["firstByteUs"] >= 700_000
    assert slow["timings"]["totalUs"] >= 700_000
    assert run.by_name("quick")["outcome"] == "up"


def test_failing_slow_check_is_down_not_degraded(cli, target):
    run = cli.check(http_monitor("slow-500", target.url("/slow/first-byte?ms=400&code=500"),
                                 degradedAfter="100ms"))
    assert run.only()["outcome"] == "down"


# --- failed assertions --------------------------------------------------------------------------


def _assertion_cases():
    return [
        ("status", "/status/503", {"type": "statusCode", "op": "eq", "value": "200"},
         "statusCode", "503", 503),
        ("header", "/status/200?header=X-Env:prod",
         {"type": "header", "name": "x-env", "op": "eq", "value": "staging"}, "header", "prod",
         200),
        ("missing-header", "/status/200",
         {"type": "header", "name": "x-absent", "op": "not_empty"}, "header", None, 200),
        ("body", "/status/200?body=goodbye+world",
         {"type": "body", "op": "contains", "value": "hello"}, "body", "goodbye", 200),
        ("body-regex", "/status/200?body=version+1.2",
         {"type": "body", "op": "matches", "value": "^version [3-9]"}, "body", "version", 200),
        ("jsonpath", "/health", {"type": "jsonPath", "path": "$.checks.db", "op": "eq",
                                 "value": "down"}, "jsonPath", "up", 200),
        ("latency", "/slow/first-byte?ms=400",
         {"type": "latency", "op": "lt", "value": "100ms"}, "latency", None, 200),
    ]


@pytest.mark.parametrize("case, path, assertion, kind, actual, code", _assertion_cases(),
                         ids=[case[0] for case in _assertion_cases()])
def test_failed_assertion_is_reported(cli, target, case, path, assertion, kind, actual, code):
    run = cli.check(http_monitor(f"assert-{case}", target.url(path), assertions=[assertion]))
    assert run.returncode == 1, run.completed.describe()
    result = run.only()
    assert result["outcome"] == "down"
    assert result["statusCode"] == code
    assert not result["error"], "the transport worked; only the assertion failed"
    failed = result["failedAssertion"]
    assert failed is not None and failed["type"] == kind
    assert failed["message"]
    assert isinstance(failed["expected"], str) and isinstance(failed["actual"], str)
    if assertion.get("value"):
        assert assertion["value"] in failed["expected"], failed
    if actual is not None:
        assert actual in failed["actual"], failed


def test_first_failing_assertion_is_named(cli, target):
    run = cli.check(http_monitor("two-asserts", target.url("/status/200?body=abc"), assertions=[
        {"type": "statusCode", "op": "eq", "value": "200"},
        {"type": "body", "op": "contains", "value": "xyz"},
    ]))
    assert run.only()["failedAssertion"]["type"] == "body"


def test_invalid_json_body_fails_json_path(cli, target):
    url = target.url("/json?" + urllib.parse.urlencode({"data": "not json {"}))
    run = cli.check(http_monitor("bad-json", url, assertions=[
        {"type": "jsonPath", "path": "$.a", "op": "eq", "value": "1"}]))
    result = run.only()
    assert result["outcome"] == "down" and result["failedAssertion"]["type"] == "jsonPath"


# --- transport failures -------------------------------------------------------------------------


def test_connection_refused(cli, target):
    run = cli.check(http_monitor("refused", target.url("/", listener="refused")))
    assert run.returncode == 1
    result = run.only()
    assert_down_by_transport(result, "refused")
    assert result["statusCode"] == 0


def test_connection_reset(cli, target):
    assert_down_by_transport(cli.check(http_monitor("reset", target.url("/reset"))).only(),
                             "reset")


def test_closed_without_answer(cli, target):
    assert_down_by_transport(cli.check(http_monitor("closed", target.url("/close"))).only(),
                             r"\S")


@pytest.mark.parametrize("case, listener, path, phase", [
    ("connect", "stall", "/", r"connect"),
    ("tls", "https_blackhole", "/", r"tls|handshake"),
    ("first-byte", "http", "/slow/first-byte?ms=10000", r"first.?byte"),
    ("transfer", "http", "/slow/body?ms=10000&chunks=10", r"transfer|body"),
])
def test_timeout_names_the_phase(cli, target, case, listener, path, phase):
    if listener == "https_blackhole":
        url = f"https://127.0.0.1:{target.port('blackhole')}{path}"
    else:
        url = target.url(path, listener=listener)
    run = cli.check(http_monitor(f"timeout-{case}", url, timeout="1s"))
    assert run.returncode == 1
    result = run.only()
    assert_down_by_transport(result, r"time(d)? ?out", phase)
    assert result["timings"]["totalUs"] >= 900_000  # it waited for the deadline


def test_truncated_body_is_down(cli, target):
    assert_down_by_transport(cli.check(http_monitor("trunc", target.url("/truncated"))).only(),
                             r"\S")


def test_garbage_reply_is_down_not_a_crash(cli, target):
    run = cli.check(http_monitor("garbage", target.url("/garbage?bytes=20000")))
    assert run.returncode == 1
    assert_down_by_transport(run.only(), r"\S")
    assert "\x00" not in run.only()["error"]


def test_huge_body_and_many_headers_are_fine(cli, target):
    run = cli.check([http_monitor("huge", target.url("/huge?mb=64"), timeout="30s"),
                     http_monitor("many-headers", target.url("/headers/many?n=1000"))])
    assert run.returncode == 0, run.completed.describe()
    assert [result["outcome"] for result in run.results] == ["up", "up"]


def test_huge_body_still_evaluates_body_assertions(cli, target):
    run = cli.check(http_monitor("huge-assert", target.url("/huge?mb=8"), timeout="30s",
                                 assertions=[{"type": "body", "op": "contains",
                                              "value": "0123456789abcdef"}]))
    assert run.only()["outcome"] == "up", run.completed.describe()


# --- redirects ----------------------------------------------------------------------------------


def test_redirects_are_followed(cli, target, tag):
    run = cli.check([
        http_monitor("relative", target.url(f"/redirect/3?tag={tag}")),
        http_monitor("absolute", target.url("/redirect/2?absolute=1&code=301")),
    ])
    assert run.returncode == 0, run.completed.describe()
    for result in run.results:
        assert result["outcome"] == "up" and result["statusCode"] == 200
    assert target.count(tag) == 4  # three redirects and the final page


def test_too_many_redirects(cli, target):
    run = cli.check(http_monitor("loop", target.url("/redirect-loop")))
    assert run.returncode == 1
    assert_down_by_transport(run.only(), "redirect")


def test_follow_redirects_false_reports_the_redirect(cli, target, tag):
    run = cli.check([
        http_monitor("no-follow", target.url(f"/redirect/1?tag={tag}"),
                     http={"followRedirects": False}),
        http_monitor("no-follow-302-ok", target.url(f"/redirect/1?tag={tag}"),
                     http={"followRedirects": False},
                     assertions=[{"type": "statusCode", "op": "eq", "value": "302"},
                                 {"type": "header", "name": "location", "op": "contains",
                                  "value": "/status/200"}]),
    ])
    assert run.by_name("no-follow")["statusCode"] == 302
    assert run.by_name("no-follow")["outcome"] == "down"  # no assertion: only 2xx is up
    assert run.by_name("no-follow-302-ok")["outcome"] == "up"
    assert target.count(tag) == 2  # the target of the redirect was never fetched


# --- TLS ----------------------------------------------------------------------------------------


def test_valid_tls_trusted_through_the_ca_file(cli, target):
    run = cli.check(http_monitor("tls-ok", target.url("/status/200", listener="https")))
    assert run.returncode == 0, run.completed.describe()
    result = run.only()
    assert result["outcome"] == "up"
    assert result["timings"]["tlsUs"] > 0
    expected = target.describe()["certs"]["https"]
    assert_close_to(result["certExpiry"], expected["not_after"])
    assert_close_to(result["certEarliestExpiry"], expected["earliest_not_after"])


def test_chain_reports_leaf_and_earliest_expiry(cli, target):
    run = cli.check(http_monitor("tls-chain", target.url("/", listener="https_chain")))
    result = run.only()
    assert result["outcome"] == "up", run.completed.describe()
    expected = target.describe()["certs"]["https_chain"]
    assert_close_to(result["certExpiry"], expected["not_after"])
    assert_close_to(result["certEarliestExpiry"], expected["earliest_not_after"])
    assert parse_rfc3339(result["certEarliestExpiry"]) < parse_rfc3339(result["certExpiry"])


@pytest.mark.parametrize("listener, pattern", [
    ("https_self_signed", r"self.?signed"),
    ("https_expired", r"expired"),
    ("https_wrong_host", r"host ?name|not valid for|mismatch|does not match"),
])
def test_bad_certificate_is_down(cli, target, listener, pattern):
    run = cli.check(http_monitor(f"bad-{listener.replace('_', '-')}",
                                 target.url("/status/200", listener=listener)))
    assert run.returncode == 1
    assert_down_by_transport(run.only(), pattern)
    assert run.only()["statusCode"] == 0


def test_bad_certificates_pass_with_insecure_skip_verify(cli, target):
    listeners = ["https_self_signed", "https_expired", "https_wrong_host"]
    run = cli.check([http_monitor(f"insecure-{index}", target.url("/status/200", listener=name),
                                  http={"tls": {"insecureSkipVerify": True}})
                     for index, name in enumerate(listeners)])
    assert run.returncode == 0, run.completed.describe()
    for index, name in enumerate(listeners):
        result = run.by_name(f"insecure-{index}")
        assert result["outcome"] == "up"
        assert_close_to(result["certExpiry"], target.describe()["certs"][name]["not_after"])


def test_server_name_selects_the_verified_name(cli, target):
    run = cli.check(http_monitor("sni", target.url("/echo", listener="https_wrong_host"),
                                 http={"tls": {"serverName": "wrong.example"}}))
    assert run.only()["outcome"] == "up", run.completed.describe()


def test_cert_expiry_assertion(cli, target):
    run = cli.check([
        http_monitor("expiring-soon", target.url("/", listener="https_expiring"),
                     assertions=[{"type": "certExpiry", "op": "gt", "value": "168h"}]),
        http_monitor("expiring-later", target.url("/", listener="https"),
                     assertions=[{"type": "certExpiry", "op": "gt", "value": "168h"}]),
    ])
    assert run.returncode == 1
    soon = run.by_name("expiring-soon")
    assert soon["outcome"] == "down" and not soon["error"]
    assert soon["failedAssertion"]["type"] == "certExpiry"
    assert "168h" in soon["failedAssertion"]["expected"]
    assert_close_to(soon["certExpiry"], target.describe()["certs"]["https_expiring"]["not_after"])
    left = parse_rfc3339(soon["certExpiry"]) - dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(days=2) < left <= dt.timedelta(days=3)
    assert run.by_name("expiring-later")["outcome"] == "up"


# --- TCP ----------------------------------------------------------------------------------------


def test_tcp_connect_ok_and_refused(cli, target):
    run = cli.check([tcp_monitor("tcp-ok", target.port("http")),
                     tcp_monitor("tcp-refused", target.port("refused"))])
    assert run.returncode == 1
    ok = run.by_name("tcp-ok")
    assert ok["type"] == "tcp" and ok["outcome"] == "up" and ok["timings"]["connectUs"] > 0
    assert ok["statusCode"] == 0 and ok["certExpiry"] is None
    assert_down_by_transport(run.by_name("tcp-refused"), "refused")


def test_tcp_connect_timeout(cli, target):
    run = cli.check(tcp_monitor("tcp-stall", target.port("stall"), timeout="1s"))
    assert_down_by_transport(run.only(), r"time(d)? ?out", "connect")


def test_tcp_tls(cli, target):
    run = cli.check([
        tcp_monitor("tcp-tls-ok", target.port("https"), tls=True),
        tcp_monitor("tcp-tls-expired", target.port("https_expired"), tls=True),
        tcp_monitor("tcp-tls-self-signed", target.port("https_self_signed"), tls=True),
        pharos.monitor("tcp-tls-insecure", "tcp", timeout="5s", tcp={
            "host": "127.0.0.1", "port": target.port("https_self_signed"), "tls": True,
            "tlsOptions": {"insecureSkipVerify": True}}),
        tcp_monitor("tcp-tls-expiring", target.port("https_expiring"), tls=True,
                    assertions=[{"type": "certExpiry", "op": "gt", "value": "168h"}]),
        tcp_monitor("tcp-tls-blackhole", target.port("blackhole"), tls=True, timeout="1s"),
    ])
    ok = run.by_name("tcp-tls-ok")
    assert ok["outcome"] == "up", run.completed.describe()
    assert ok["timings"]["tlsUs"] > 0
    assert_close_to(ok["certExpiry"], target.describe()["certs"]["https"]["not_after"])
    assert_down_by_transport(run.by_name("tcp-tls-expired"), "expired")
    assert_down_by_transport(run.by_name("tcp-tls-self-signed"), r"self.?signed")
    assert run.by_name("tcp-tls-insecure")["outcome"] == "up"
    expiring = run.by_name("tcp-tls-expiring")
    assert expiring["outcome"] == "down"
    assert expiring["failedAssertion"]["type"] == "certExpiry"
    assert_down_by_transport(run.by_name("tcp-tls-blackhole"), r"time(d)? ?out", r"tls|handshake")


# --- DNS ----------------------------------------------------------------------------------------


def _normalise(record: str) -> str:
    return record.strip().rstrip(".").replace('"', "").lower()


@pytest.mark.parametrize("name, record_type", [
    ("ok.test", "A"), ("multi.test", "A"), ("v6.test", "AAAA"), ("alias.test", "CNAME"),
    ("mail.test", "MX"), ("txt.test", "TXT"), ("test", "NS"),
])
def test_dns_records(cli, dns, name, record_type):
    run = cli.check(dns_monitor(f"dns-{record_type.lower()}", dns, name, record_type))
    assert run.returncode == 0, run.completed.describe()
    result = run.only()
    assert result["type"] == "dns" and result["outcome"] == "up"
    assert result["timings"]["totalUs"] > 0
    records = [_normalise(record) for record in result["dnsRecords"]]
    for expected in dns_server.DEFAULT_RECORDS[(name, record_type)]:
        # MX may be given as "10 mx1.test" or just the exchange; accept both forms.
        parts = expected.split(" ")
        assert any(all(part in record for part in parts[-1:]) for record in records), (
            expected, records)
    assert len(records) == len(dns_server.DEFAULT_RECORDS[(name, record_type)])


def test_dns_record_assertion(cli, dns):
    run = cli.check([
        dns_monitor("dns-contains", dns, "multi.test", assertions=[
            {"type": "dnsRecord", "op": "contains", "value": "127.0.0.2"}]),
        dns_monitor("dns-wrong", dns, "ok.test", assertions=[
            {"type": "dnsRecord", "op": "contains", "value": "10.9.9.9"}]),
    ])
    assert run.returncode == 1
    assert run.by_name("dns-contains")["outcome"] == "up"
    wrong = run.by_name("dns-wrong")
    assert wrong["outcome"] == "down" and not wrong["error"]
    assert wrong["failedAssertion"]["type"] == "dnsRecord"
    assert "10.9.9.9" in wrong["failedAssertion"]["expected"]
    assert "127.0.0.1" in wrong["failedAssertion"]["actual"]


def test_dns_nxdomain(cli, dns):
    run = cli.check(dns_monitor("dns-nx", dns, dns_server.NXDOMAIN_NAME))
    assert run.returncode == 1
    assert_down_by_transport(run.only(), r"nxdomain|does not exist|not found|no such")


def test_dns_server_not_answering(cli):
    port = pharos.free_port("udp")
    monitor = pharos.monitor("dns-dead", "dns", timeout="2s",
                             dns={"name": "ok.test", "recordType": "A",
                                  "server": f"127.0.0.1:{port}"})
    run = cli.check(monitor)
    assert run.returncode == 1
    assert_down_by_transport(run.only(), r"\S")


# --- retries and flapping targets ---------------------------------------------------------------


def test_retries_until_success_report_attempts(cli, target, tag):
    url = target.url(f"/flap?period=1&start=down&name={tag}&tag={tag}")
    run = cli.check(http_monitor("flapping", url, retries=2))
    assert run.returncode == 0, run.completed.describe()
    result = run.only()
    assert result["outcome"] == "up" and result["attempts"] == 2
    assert target.count(tag) == 2


def test_retries_exhausted_report_every_attempt(cli, target, tag):
    run = cli.check(http_monitor("always-500", target.url(f"/status/500?tag={tag}"), retries=2))
    result = run.only()
    assert result["outcome"] == "down" and result["attempts"] == 3
    assert target.count(tag) == 3


def test_no_retry_after_success(cli, target, tag):
    run = cli.check(http_monitor("once", target.url(f"/status/200?tag={tag}"), retries=3))
    assert run.only()["attempts"] == 1 and target.count(tag) == 1


def test_switchable_target_goes_down_and_up(cli, target, tag):
    monitors = http_monitor("switch", target.url(f"/state/{tag}"))
    target.set_state(tag, 503)
    down = cli.check(monitors)
    assert down.returncode == 1 and down.only()["statusCode"] == 503
    target.set_state(tag, 200)
    up = cli.check(monitors)
    assert up.returncode == 0 and up.only()["outcome"] == "up"


# --- what is sent -------------------------------------------------------------------------------


def test_default_user_agent(cli, target, tag):
    cli.check(http_monitor("ua", target.url(f"/echo?tag={tag}")))
    [seen] = target.requests(tag)
    assert seen["method"] == "GET"
    assert seen["headers"]["user-agent"].lower().startswith("pharos/"), seen["headers"]


def test_custom_headers_override_user_agent(cli, target, tag):
    cli.check(http_monitor("headers", target.url(f"/echo?tag={tag}"), http={
        "headers": {"User-Agent": "custom/1.0", "Accept": "application/json",
                    "X-Trace": "abc"}}))
    [seen] = target.requests(tag)
    assert seen["headers"]["user-agent"] == "custom/1.0"
    assert seen["headers"]["accept"] == "application/json"
    assert seen["headers"]["x-trace"] == "abc"


def test_post_sends_body_and_content_type(cli, target, tag):
    run = cli.check(http_monitor("post", target.url(f"/echo?tag={tag}"), http={
        "method": "POST", "body": '{"order": 42}',
        "headers": {"Content-Type": "application/json"}}, assertions=[
        {"type": "jsonPath", "path": "$.method", "op": "eq", "value": "POST"}]))
    assert run.only()["outcome"] == "up", run.completed.describe()
    [seen] = target.requests(tag)
    assert seen["method"] == "POST"
    assert seen["body"] == '{"order": 42}'
    assert seen["headers"]["content-type"] == "application/json"


@pytest.mark.parametrize("method", ["HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_every_method_is_sent_as_given(cli, target, tag, method):
    run = cli.check(http_monitor(f"method-{method.lower()}", target.url(f"/echo?tag={tag}"),
                                 http={"method": method}))
    assert run.only()["outcome"] == "up", run.completed.describe()
    assert [seen["method"] for seen in target.requests(tag)] == [method]


# --- inputs, outputs and exit codes -------------------------------------------------------------


def test_table_output(cli, target):
    path = cli.write([http_monitor("table-up", target.url("/status/200")),
                      http_monitor("table-down", target.url("/status/503"))])
    for args in ([], ["-o", "table"]):
        completed = cli.run("check", *args, path)
        assert completed.returncode == 1, completed.describe()
        lines = [line for line in completed.stdout.splitlines() if line.strip()]
        header = lines[0].lower()
        for column in ("name", "outcome", "status"):
            assert column in header, completed.describe()
        up_row = next(line for line in lines if "table-up" in line)
        down_row = next(line for line in lines if "table-down" in line)
        assert re.search(r"\bup\b", up_row) and "200" in up_row
        assert re.search(r"\bdown\b", down_row) and "503" in down_row
        assert re.search(r"\d+(\.\d+)? ?ms", up_row), "total time in ms"


def test_table_shows_the_reason(cli, target):
    completed = cli.run("check", cli.write(http_monitor("why", target.url("/", "refused"))))
    row = next(line for line in completed.stdout.splitlines() if "why" in line)
    assert "refused" in row.lower()


def test_exit_codes(cli, target, tag):
    good = cli.write(http_monitor("good", target.url("/status/200")))
    degraded = cli.write(http_monitor("meh", target.url("/slow/first-byte?ms=400"),
                                      degradedAfter="100ms"))
    bad = cli.write(http_monitor("bad", target.url("/status/500")))
    assert cli.run("check", good).returncode == 0
    assert cli.run("check", degraded).returncode == 0
    assert cli.run("check", good, bad).returncode == 1

    invalid = cli.write("apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata: {name: x}\n"
                        "spec: {type: http, frequency: 7m, http: {url: 'ftp://nope'}}\n")
    counted = cli.write(http_monitor("counted", target.url(f"/status/200?tag={tag}")))
    completed = cli.run("check", counted, invalid)
    assert completed.returncode == 2, completed.describe()
    assert str(invalid) in completed.output
    assert target.count(tag) == 0, "nothing is checked when any input is invalid"

    assert cli.run("check", str(cli.workdir / "missing.yaml")).returncode == 2
    assert cli.run("check", "-o", "xml", good).returncode == 2
    assert cli.run("check").returncode == 2


def test_directories_and_multiple_files(cli, target):
    cli.write(http_monitor("dir-a", target.url("/status/200")), "sub/a.yaml")
    cli.write([http_monitor("dir-b", target.url("/status/200")),
               http_monitor("dir-c", target.url("/status/204"))], "sub/deeper/b.yml")
    run = cli.check((str(cli.workdir / "sub"),))
    assert sorted(result["name"] for result in run.results) == ["dir-a", "dir-b", "dir-c"]


def test_suspended_monitors_are_not_checked(cli, target, tag):
    run = cli.check([http_monitor("active", target.url("/status/200")),
                     http_monitor("paused", target.url(f"/status/200?tag={tag}"),
                                   suspend=True)])
    assert [result["name"] for result in run.results] == ["active"]
    assert target.count(tag) == 0


def test_help_and_version(cli):
    help_run = cli.run("--help")
    assert help_run.returncode == 0
    assert "check" in help_run.stdout and "validate" in help_run.stdout
    check_help = cli.run("check", "--help")
    assert check_help.returncode == 0 and "--concurrency" in check_help.stdout
    version = cli.run("--version")
    assert version.returncode == 0 and re.search(r"\d+\.\d+", version.stdout)


# --- scale --------------------------------------------------------------------------------------


def test_thousand_monitors_in_one_run(cli, target, tag):
    monitors = [http_monitor(f"bulk-{index:04d}", target.url(f"/status/200?tag={tag}&i={index}"),
                             timeout="30s")
                for index in range(1000)]
    run = cli.check(monitors, "--concurrency", "200", timeout=300)
    assert run.returncode == 0, run.completed.describe()
    assert len(run.results) == 1000
    bad = [result for result in run.results if result["outcome"] != "up"]
    assert not bad, bad[:5]
    assert sorted(result["name"] for result in run.results) == [
        f"bulk-{index:04d}" for index in range(1000)]
    assert target.count(tag) == 1000
