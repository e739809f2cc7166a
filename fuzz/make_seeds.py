#!/usr/bin/env python3
"""Writes the seed corpora of fuzz/corpus/<target>/ (small, real examples of each input).

Run it again after changing a seed here; inputs that reproduced a crash are kept by hand in
fuzz/corpus/<target>/regression-* (this script never removes files). Usage: fuzz/make_seeds.py
"""
import json
import os
import struct

ROOT = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(ROOT)


def write(target, name, data):
    directory = os.path.join(ROOT, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def yaml_documents(path):
    with open(os.path.join(REPO, path)) as f:
        text = f.read()
    return [d.strip() + "\n" for d in text.split("\n---\n") if "kind:" in d]


# --- Monitor documents -------------------------------------------------------------------------
for i, doc in enumerate(yaml_documents("examples/monitors.yaml")):
    write("monitor_document", f"example-{i}.yaml", doc)
for i, doc in enumerate(yaml_documents("examples/invalid.yaml")):
    write("monitor_document", f"invalid-{i}.yaml", doc)
api_object = {
    "apiVersion": "pharos.dev/v1alpha1", "kind": "Monitor",
    "metadata": {"name": "api", "namespace": "shop", "uid": "0b7e", "generation": 3,
                 "resourceVersion": "42", "labels": {"team": "a"}},
    "spec": {"type": "http", "frequency": "30s", "regions": ["eu-west"], "timeout": "5s",
             "http": {"url": "https://api.example.com/health", "method": "POST",
                      "headers": {"Accept": "application/json"}, "body": "{}",
                      "tls": {"insecureSkipVerify": False, "serverName": "api"}},
             "assertions": [{"type": "jsonPath", "path": "$.items[0].state", "op": "eq",
                             "value": "ok"},
                            {"type": "certExpiry", "op": "gt", "value": "14d"}],
             "alerting": {"failureThreshold": 2, "channels": ["pager"], "remindEvery": "1h"}},
    "status": {"state": "Up"}}
write("monitor_document", "api-object.json", json.dumps(api_object))
write("monitor_document", "dns.json", json.dumps({
    "apiVersion": "pharos.dev/v1alpha1", "kind": "Monitor", "metadata": {"name": "dns"},
    "spec": {"type": "dns", "frequency": "1m",
             "dns": {"name": "example.com", "recordType": "MX", "server": "127.0.0.1:53"},
             "assertions": [{"type": "dnsRecord", "op": "contains", "value": "mail"}]}}))
# Hostile inputs of issue #16.
write("monitor_document", "hostile-recursive-alias.yaml",
      "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\n"
      "metadata: &m {name: a, annotations: *m}\n"
      "spec: {type: tcp, frequency: 1m, tcp: {host: 127.0.0.1, port: 80}}\n")
write("monitor_document", "hostile-deep-nesting.yaml", "a: " + "[" * 3000 + "]" * 3000 + "\n")
write("monitor_document", "hostile-long-integer.yaml",
      "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata: {name: a}\n"
      "spec: {type: tcp, frequency: 1m, retries: " + "9" * 4000 + "}\n")
write("monitor_document", "hostile-huge-number.json",
      '{"apiVersion":"pharos.dev/v1alpha1","kind":"Monitor","metadata":{"name":"a",'
      '"generation":1e400},"spec":{"type":"tcp","tcp":{"host":"h","port":1e999}}}')

# --- JSONPath: expression \n body --------------------------------------------------------------
body = json.dumps({"checks": {"db": "up", "cache": "down"},
                   "items": [{"id": 1, "state": "ok"}, {"id": 2, "state": "bad", "tags": ["a"]}],
                   "name with space": True, "n": 1.5e3})
for i, expr in enumerate(["$.checks.db", "$.items[*].state", "$['name with space']",
                          "$.items[-1].tags[0]", "$.*", '$["checks"].*', "$..id", "$[0]"]):
    write("json_path", f"seed-{i}", expr + "\n" + body)
write("json_path", "hostile-out-of-range-number", "$.a\n{\"a\": 1e400, \"b\": [1e-400]}")

# --- Regex: pattern \0 body --------------------------------------------------------------------
for i, (pattern, text) in enumerate([
        (r"(?i)welcome,?\s+synthetic", "<h1>Welcome, synthetic</h1>"),
        (r"^HTTP/1\.[01] 200", "HTTP/1.1 200 OK"),
        (r"\d{3}-\d{4}", "call 555-1234"),
        (r"(a+)+$", "a" * 30 + "b"),  # catastrophic backtracking: must hit the match limit
        (r"(x+x+)+y", "x" * 40),
        (r"(?:(?:(?:a*)*)*)*b", "a" * 64),
        (r"(*UTF)\x{100}", "\xc4\x80"),
        (r"(?<n>ab)\k<n>", "abab")]):
    write("regex", f"seed-{i}", pattern.encode() + b"\0" + text.encode("latin-1"))


# --- DNS answers: type byte, packet ------------------------------------------------------------
def name(labels):
    out = b""
    for label in labels.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def packet(qtype, answers, rcode=0):
    head = struct.pack(">HHHHHH", 0x1234, 0x8180 | rcode, 1, len(answers), 0, 0)
    question = name("example.com") + struct.pack(">HH", qtype, 1)
    out = head + question
    for rtype, rdata in answers:
        out += struct.pack(">HHHIH", 0xC00C, rtype, 1, 300, len(rdata)) + rdata
    return out


TYPES = {"A": (0, 1), "AAAA": (1, 28), "CNAME": (2, 5), "MX": (3, 15), "TXT": (4, 16), "NS": (5, 2)}
write("dns_answer", "a", bytes([0]) + packet(1, [(1, bytes([93, 184, 216, 34])),
                                                  (1, bytes([127, 0, 0, 1]))]))
write("dns_answer", "aaaa", bytes([1]) + packet(28, [(28, bytes([0x20, 1, 0xd, 0xb8] + [0] * 11 + [5]))]))
write("dns_answer", "cname", bytes([2]) + packet(5, [(5, name("www.example.com"))]))
write("dns_answer", "mx", bytes([3]) + packet(15, [(15, struct.pack(">H", 10) + name("mail.example.com")),
                                                    (15, struct.pack(">H", 20) + b"\x04mail\xc0\x0c")]))
write("dns_answer", "txt", bytes([4]) + packet(16, [(16, b"\x0bv=spf1 -all\x05hello")]))
write("dns_answer", "ns", bytes([5]) + packet(2, [(2, name("ns1.example.com")), (2, b"\x03ns2\xc0\x0c")]))
write("dns_answer", "nxdomain", bytes([0]) + packet(1, [], rcode=3))
loop = bytearray(packet(5, []))
loop[7] = 1  # one answer whose name points at itself
loop += struct.pack(">H", 0xC000 | len(loop))
loop += struct.pack(">HHIH", 5, 1, 300, 2) + b"\xc0\x0c"
write("dns_answer", "hostile-compression-loop", bytes([2]) + bytes(loop))


# --- TCP conversations: steps (S send, E expect, R expectRegex, T startTls) \0 server bytes ------
# Reads are cut at 0x1F; a last 0x1E closes the stream.
write("tcp_conversation", "redis", "SPING\r\nE+PONG\0+PONG\r\n")
write("tcp_conversation", "smtp-starttls",
      "E220\nSEHLO pharos\r\nESTARTTLS\nSSTARTTLS\r\nE220\nT\nSEHLO pharos\r\nE250\0"
      "220 mail ESMTP\r\n\x1f250-mail\r\n250-STARTTLS\r\n250 OK\r\n\x1f220 go ahead\r\n"
      "250 injected\r\n\x1f250 OK\r\n")
write("tcp_conversation", "ssh-banner", "R^SSH-2\\.0-\\S+$\0SSH-2.0-OpenSSH_9.2p1\r\n")
write("tcp_conversation", "split-lines", "Ehello world\0hel\x1flo wo\x1frld\n")
write("tcp_conversation", "closed-early", "E220\0554 no service\r\n\x1e")
write("tcp_conversation", "unterminated-at-close", "Ebye\0good bye\x1e")
write("tcp_conversation", "tls-twice", "+tls\nT\nE250\0")
write("tcp_conversation", "bad-regex", "R(unclosed\0anything\n")
write("tcp_conversation", "catastrophic-regex", "R^(a+)+$\0" + "a" * 5000 + "b\n")
write("tcp_conversation", "flood", "Enever\0" + "x" * 70000)
write("tcp_conversation", "silent", "SHELLO\r\nE220\0")

# --- Kubernetes watch stream: chunk-size byte, stream ------------------------------------------
# --- gRPC health responses (selector byte: even = framed response, odd = grpc-message) ---------
def grpc_frame(message, flag=0):
    return bytes([flag]) + struct.pack(">I", len(message)) + message


write("grpc_health", "serving", b"\0" + grpc_frame(b"\x08\x01"))
write("grpc_health", "not-serving", b"\0" + grpc_frame(b"\x08\x02"))
write("grpc_health", "empty-message-unknown", b"\0" + grpc_frame(b""))
write("grpc_health", "unknown-fields-skipped",
      b"\0" + grpc_frame(b"\x12\x03abc\x09" + b"\0" * 8 + b"\x15" + b"\0" * 4 + b"\x08\x01"))
write("grpc_health", "truncated-frame", b"\0" + b"\0\0\0\0\x09\x08")
write("grpc_health", "compressed", b"\0" + grpc_frame(b"\x08\x01", flag=1))
write("grpc_health", "negative-status", b"\0" + grpc_frame(b"\x08" + b"\xff" * 9 + b"\x01"))
write("grpc_health", "message-percent", b"\x01" + b"service%20%E2%9C%93 not found%")
write("grpc_health", "message-bad-escape", b"\x01" + b"%zz%4")


# --- ICMP echo replies (selector: bit 0 IPv6, bit 1 IPv4 header, bit 2 any identifier) --------
def icmp4(kind, identifier, sequence, payload):
    header = struct.pack(">BBHHH", kind, 0, 0, identifier, sequence) + payload
    total = sum((header[i] << 8) + (header[i + 1] if i + 1 < len(header) else 0)
                for i in range(0, len(header), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return header[:2] + struct.pack(">H", ~total & 0xFFFF) + header[4:]


ICMP_PAYLOAD = struct.pack(">Q", 0x0123456789ABCDEF) + bytes(range(48))  # the fuzzer's token
IPV4_HEADER = bytes([0x45, 0, 0, 84, 0, 0, 0x40, 0, 64, 1, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1])
write("icmp_reply", "v4-echo-reply", b"\x00" + icmp4(0, 0x1234, 7, ICMP_PAYLOAD))
write("icmp_reply", "v4-echo-reply-ip-header",
      b"\x02" + IPV4_HEADER + icmp4(0, 0x1234, 7, ICMP_PAYLOAD))
write("icmp_reply", "v4-other-identifier", b"\x00" + icmp4(0, 0x4321, 7, ICMP_PAYLOAD))
write("icmp_reply", "v4-dest-unreachable", b"\x02" + IPV4_HEADER + bytes([3, 1, 0, 0, 0, 0, 0, 0])
      + IPV4_HEADER + icmp4(8, 0x1234, 7, ICMP_PAYLOAD)[:8])
write("icmp_reply", "v6-echo-reply", b"\x01" + bytes([129, 0, 0, 0, 0x12, 0x34, 0, 7]) + ICMP_PAYLOAD)
write("icmp_reply", "v6-any-identifier", b"\x05" + bytes([129, 0, 0, 0, 0, 1, 0, 7]) + ICMP_PAYLOAD)
write("icmp_reply", "short", b"\x02" + bytes([0x4F, 0, 0]))
write("icmp_reply", "ihl-beyond-packet", b"\x02" + bytes([0x4F]) + b"\0" * 22)


def event(kind, obj):
    return json.dumps({"type": kind, "object": obj}) + "\n"


monitor = dict(api_object)
monitor["metadata"] = dict(api_object["metadata"], resourceVersion="101")
stream = (event("ADDED", monitor) + "\n" + event("MODIFIED", monitor) +
          event("BOOKMARK", {"kind": "Monitor", "metadata": {"resourceVersion": "102"}}) +
          event("DELETED", monitor) +
          event("ERROR", {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                          "message": "too old resource version: 1 (99)", "reason": "Expired",
                          "code": 410}))
write("watch_event", "stream", bytes([255]) + stream.encode())
write("watch_event", "stream-small-chunks", bytes([6]) + stream.encode())
write("watch_event", "utf8-split", bytes([2]) + event("ADDED", {"metadata": {"name": "é☃𝄞"}}).encode())
write("watch_event", "unterminated", bytes([40]) + b'{"type":"ADDED","object":{"a":1}}')
write("watch_event", "hostile-garbage-line", bytes([255]) + b'{"type":"ADDED","object":{}}\nnot json\n')

# --- Probe protocol: selector byte, JSON -------------------------------------------------------
result = {"namespace": "shop", "name": "api", "uid": "uid-1", "generation": 3, "type": "http",
          "target": "https://api.example.com/health", "region": "eu-west", "probe": "probe-a",
          "itemId": "uid-1@eu-west@1700000000000", "scheduledAt": "2026-12-07T01:00:00.000Z",
          "startedAt": "2026-12-07T01:00:00.120Z", "outcome": "down", "statusCode": 503,
          "timings": {"dnsUs": 1, "connectUs": 2, "tlsUs": 3, "firstByteUs": 4,
                      "transferUs": 5, "totalUs": 15},
          "certExpiry": "2027-01-01T00:00:00Z", "certEarliestExpiry": None,
          "failedAssertion": {"type": "statusCode", "expected": "eq 200", "actual": "503",
                              "message": "status code 503, expected eq 200"},
          "error": "", "attempts": 2, "dnsRecords": ["93.184.216.34"]}
lease = {"items": [{"id": "uid-1@eu-west@1700000000000", "monitorUid": "uid-1", "generation": 3,
                    "region": "eu-west", "scheduledAt": "2026-12-07T01:00:00.000Z",
                    "deadline": "2026-12-07T01:00:30.000Z", "attempt": 1,
                    "leaseExpiresAt": "2026-12-07T01:00:15.000Z"}],
         "monitors": {"uid-1": api_object}}
probe = {"name": "probe-a", "region": "eu-west"}
for selector, name_, doc in [
        (0, "register-reply", {"name": "probe-a", "region": "eu-west", "leaseWaitMaxSeconds": 30,
                               "resultBatchMax": 500}),
        (1, "lease-reply", lease),
        (1, "lease-reply-empty", {"items": [], "monitors": {}}),
        (2, "results-reply", {"accepted": ["a"], "duplicates": ["b"],
                              "rejected": [{"id": "c", "reason": "unknown item"}]}),
        (3, "check-result", result),
        (4, "register-request", dict(probe, version="0.1.0", capacity=16)),
        (5, "lease-request", dict(probe, max=15, waitSeconds=0)),
        (6, "results-request", dict(probe, results=[result])),
        # Hostile inputs of issue #16.
        (4, "hostile-capacity-out-of-range", '{"name":"probe-a","region":"eu-west","capacity":1e999}'),
        (5, "hostile-wait-out-of-range", '{"name":"probe-a","region":"eu-west","waitSeconds":1e999}'),
        (6, "hostile-result-fields", dict(probe, results=[dict(
            result, scheduledAt="9999-12-31T23:59:59.999Z", statusCode=-1, attempts=-5,
            generation=-1, timings={"totalUs": 2**63 - 1}, error="x\u0000y")])),
        (1, "hostile-lease-huge-item-count", {"items": [lease["items"][0]] * 200, "monitors": {}})]:
    text = doc if isinstance(doc, str) else json.dumps(doc)
    write("probe_protocol", name_, bytes([selector]) + text.encode())

# --- HTTP requests -----------------------------------------------------------------------------
requests = {
    "get": "GET /healthz HTTP/1.1\r\nHost: pharos\r\n\r\n",
    "get-params": "GET /api/v1/monitors/shop/check%2Dout?since=2026-01-01T00:00:00Z&limit=5 HTTP/1.1\r\n"
                  "Host: pharos\r\nAccept: application/json\r\n\r\n",
    "post-length": "POST /api/v1/work/results HTTP/1.1\r\nHost: p\r\nContent-Type: application/json\r\n"
                   "Content-Length: 13\r\nAuthorization: Bearer t\r\n\r\n{\"results\":[]}",
    "post-chunked": "POST /api/v1/work/results HTTP/1.1\r\nHost: p\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
    "pipelined": "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nHEAD /static/a/b/c.css HTTP/1.1\r\nHost: a\r\n\r\n"
                 "GET /healthz HTTP/1.0\r\n\r\n",
    "keep-alive-10": "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /nothing HTTP/1.1\r\nHost: a\r\n"
                     "Connection: close\r\n\r\n",
    "options": "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    "expect-continue": "POST /api/v1/work/results HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                       "Content-Length: 2\r\n\r\n{}",
    # Hostile inputs of issue #16.
    "hostile-trace": "TRACE /healthz HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer secret\r\n\r\n",
    "hostile-two-lengths": "POST /api/v1/work/results HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
                           "Content-Length: 3\r\n\r\n{}",
    "hostile-negative-length": "POST /api/v1/work/results HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
    "hostile-huge-chunk": "POST /api/v1/work/results HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "ffffffffffffffffff\r\nx\r\n",
    "hostile-bare-lf": "GET /healthz HTTP/1.1\nHost: a\n\n",
    "hostile-many-segments": "GET /" + "a/" * 2000 + " HTTP/1.1\r\nHost: a\r\n\r\n",
    "hostile-http-9.9": "GET /healthz HTTP/9.9\r\nHost: a\r\n\r\n",
    "hostile-bad-escape": "GET /api/v1/monitors/% HTTP/1.1\r\nHost: a\r\n\r\n",
    "hostile-smuggling": "POST /api/v1/work/results HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n",
    "hostile-long-uri": "GET /" + "x" * 5000 + " HTTP/1.1\r\nHost: a\r\n\r\n",
}
for name_, text in requests.items():
    write("http_request", name_, text)

# --- Regions config ----------------------------------------------------------------------------
write("regions_config", "minimal.yaml", "regions:\n- name: eu-west\n")
with open(os.path.join(REPO, "tests/unit/operator/controller/regions_config_test.cpp")) as f:
    source = f.read()
start = source.index('kChartRendered = R"(') + len('kChartRendered = R"(')
write("regions_config", "chart-rendered.yaml", source[start:source.index(')"', start)])
write("regions_config", "hostile-types.yaml",
      "namespace: [x]\nprobe: {metricsPort: 99999999999, labels: {a: {b: c}}}\n"
      "regions: [{name: EU_West, nodeSelector: 3}, {name: eu-west}, {name: eu-west}]\n")

# --- Alerting documents ------------------------------------------------------------------------
with open(os.path.join(REPO, "docs/alerting.md")) as f:
    blocks = f.read().split("```yaml\n")[1:]
alerting = [b[:b.index("```")] for b in blocks]
for i, block in enumerate(alerting):
    if "kind: AlertChannel" in block or "kind: MaintenanceWindow" in block:
        write("alerting_documents", f"docs-{i}.yaml", block)
    elif block.startswith("spec:"):
        write("alerting_documents", f"docs-{i}.yaml",
              "apiVersion: pharos.dev/v1alpha1\nkind: AlertChannel\nmetadata: {name: c}\n" + block)
write("alerting_documents", "channel-with-template.yaml",
      "apiVersion: pharos.dev/v1alpha1\nkind: AlertChannel\nmetadata: {name: hook, namespace: shop}\n"
      "spec:\n  type: webhook\n  webhook: {url: http://127.0.0.1:9/hook}\n"
      "  template: {title: '{{ monitor.key }} is {{ state }}', text: '{{ reason }} since {{ occurredAt }}'}\n"
      "---\n" + yaml_documents("examples/monitors.yaml")[0])

# --- Cron schedules: time zone \n expression ---------------------------------------------------
for i, (zone, expr) in enumerate([("UTC", "0 22 * * sat"), ("Europe/Berlin", "30 2 * * *"),
                                   ("America/New_York", "*/15 9-17 * * mon-fri"),
                                   ("Australia/Lord_Howe", "0,30 1-3 1,15 jan-dec 0-7"),
                                   ("Asia/Kolkata", "5-55/10 */3 31 2 *"),
                                   ("Europe/London", "59 23 L * *")]):
    write("cron_schedule", f"seed-{i}", f"{zone}\n{expr}")

# --- Status pages ------------------------------------------------------------------------------
with open(os.path.join(REPO, "tests/unit/operator/web/status_page_parser_test.cpp")) as f:
    source = f.read()
for i, chunk in enumerate(source.split('R"(apiVersion: pharos.dev/v1alpha1\nkind: StatusPage')[1:]):
    write("status_page", f"test-{i}.yaml",
          "apiVersion: pharos.dev/v1alpha1\nkind: StatusPage" + chunk[:chunk.index(')"')])
write("status_page", "api-object.json", json.dumps({
    "apiVersion": "pharos.dev/v1alpha1", "kind": "StatusPage",
    "metadata": {"name": "shop", "namespace": "shop", "uid": "u", "resourceVersion": "7"},
    "spec": {"title": "Shop", "groups": [{"name": "Web", "components": [
        {"monitor": "web"}, {"selector": {"matchLabels": {"tier": "db"}}}]}],
             "access": {"passwordSecretRef": {"name": "page", "key": "password"},
                        "allowedCidrs": ["10.0.0.0/8"]}},
    "status": {}}))

# --- Message templates -------------------------------------------------------------------------
for i, text in enumerate(["{{ monitor.key }} is {{ state }}",
                          "[{{event}}] {{ monitor.name }} ({{ monitor.target }}) in {{ regions }}: {{ reason }}",
                          "{{ incident.id }} since {{ incident.startedAt }}, ack by {{ acknowledgedBy }}",
                          "no placeholders", "{{ unclosed", "{{ monitor.nme }}", "{{}} {{ {{ x }} }}"]):
    write("message_template", f"seed-{i}", text)
