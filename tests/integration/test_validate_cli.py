"""`pharos validate PATH...`: every error printed as `file:line:col: path: message`, one per line,
exit 2 when there is any; exit 0 and a one-line summary when everything is valid."""

from __future__ import annotations

import json
import re
import textwrap

import pytest

import pharos

VALID = textwrap.dedent("""\
    apiVersion: pharos.dev/v1alpha1
    kind: Monitor
    metadata:
      name: checkout-api
      namespace: shop
    spec:
      type: http
      frequency: 1m
      timeout: 10s
      degradedAfter: 2s
      retries: 2
      http:
        url: https://shop.example.com/api/health
        method: GET
        headers: {Accept: application/json}
      assertions:
        - {type: statusCode, op: eq, value: "200"}
        - {type: jsonPath, path: "$.checks.db", op: eq, value: "up"}
        - {type: certExpiry, op: gt, value: "168h"}
      alerting: {failureThreshold: 2, channels: [oncall-slack]}
    ---
    apiVersion: pharos.dev/v1alpha1
    kind: Monitor
    metadata: {name: db, namespace: shop}
    spec:
      type: tcp
      frequency: 30s
      tcp: {host: db.example.com, port: 5432}
    """)


class Validate:
    def __init__(self, executable, workdir) -> None:
        self.executable = executable
        self.workdir = workdir

    def write(self, name: str, text: str):
        path = self.workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def __call__(self, *paths) -> pharos.Completed:
        completed = pharos.run([self.executable, "validate", *paths], timeout=60)
        assert completed.returncode >= 0, "pharos crashed\n" + completed.describe()
        return completed


@pytest.fixture
def validate(pharos_executable, tmp_path) -> Validate:
    return Validate(pharos_executable, tmp_path)


def error_lines(completed: pharos.Completed, path) -> list[tuple[int, int, str]]:
    """(line, column, rest) of every `path:line:col: ...` line the command printed."""
    pattern = re.compile(rf"^{re.escape(str(path))}:(\d+):(\d+): (.+)$")
    found = []
    for line in completed.output.splitlines():
        match = pattern.match(line)
        if match:
            found.append((int(match[1]), int(match[2]), match[3]))
    return found


def assert_error_at(completed, path, line: int, field: str, words: str | None = None) -> None:
    """An error for `field` on `line` of `path` (column ≥ 1), optionally mentioning `words`."""
    errors = error_lines(completed, path)
    matching = [(column, rest) for found_line, column, rest in errors
                if found_line == line and rest.startswith(f"{field}: ")]
    assert matching, (f"no error for {field} at {path}:{line}\n" + completed.describe())
    column, rest = matching[0]
    assert column >= 1
    assert len(rest) > len(field) + 2, "the error says what is wrong"
    if words:
        assert re.search(words, rest, re.IGNORECASE), rest


def test_valid_files_print_a_one_line_summary(validate):
    first = validate.write("valid.yaml", VALID)
    second = validate.write("more/other.json", json.dumps({
        "apiVersion": "pharos.dev/v1alpha1", "kind": "Monitor", "metadata": {"name": "dns-1"},
        "spec": {"type": "dns", "dns": {"name": "example.com", "recordType": "MX"}}}))
    completed = validate(first, second)
    assert completed.returncode == 0, completed.describe()
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, completed.describe()
    assert re.search(r"\b3\b", lines[0]), "the summary counts the monitors"
    assert not error_lines(completed, first)


def test_directory_is_validated_recursively(validate):
    validate.write("dir/a.yaml", VALID)
    validate.write("dir/nested/b.yml", VALID.replace("checkout-api", "other").replace(
        "name: db,", "name: db2,"))
    validate.write("dir/notes.txt", "not a monitor")
    completed = validate(validate.workdir / "dir")
    assert completed.returncode == 0, completed.describe()
    assert re.search(r"\b4\b", completed.stdout)


def test_every_error_is_located(validate):
    path = validate.write("broken.yaml", textwrap.dedent("""\
        apiVersion: pharos.dev/v1alpha1
        kind: Monitor
        metadata:
          name: broken
        spec:
          type: http
          frequency: 7m
          timeout: 5x
          http:
            url: https://example.com/health
            method: FETCH
          assertions:
            - {type: statusCode, op: equals, value: "200"}
            - type: bodyText
              op: contains
              value: ok
          retires: 2
        """))
    completed = validate(path)
    assert completed.returncode == 2, completed.describe()
    assert_error_at(completed, path, 7, "spec.frequency", "7m")
    assert_error_at(completed, path, 8, "spec.timeout")
    assert_error_at(completed, path, 11, "spec.http.method", "FETCH|GET")
    assert_error_at(completed, path, 13, "spec.assertions[0].op", "equals|eq")
    assert_error_at(completed, path, 14, "spec.assertions[1].type", "bodyText|body")
    assert_error_at(completed, path, 17, "spec.retires", "retries|unknown")
    assert len(error_lines(completed, path)) >= 6


@pytest.mark.parametrize("case, text, line, field, words", [
    ("api-version", "apiVersion: pharos.dev/v1\nkind: Monitor\nmetadata: {name: a}\n"
     "spec: {type: tcp, tcp: {host: h, port: 1}}\n", 1, "apiVersion", "v1alpha1"),
    ("kind", "apiVersion: pharos.dev/v1alpha1\nkind: Monitr\nmetadata: {name: a}\n"
     "spec: {type: tcp, tcp: {host: h, port: 1}}\n", 2, "kind", "Monitor"),
    ("name", "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata:\n  name: Bad_Name\n"
     "spec: {type: tcp, tcp: {host: h, port: 1}}\n", 4, "metadata.name", None),
    ("type", "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata: {name: a}\nspec:\n"
     "  type: ftp\n  tcp: {host: h, port: 1}\n", 5, "spec.type", "http|tcp|dns|icmp|grpc|push"),
    ("url-scheme", "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata: {name: a}\n"
     "spec:\n  type: http\n  http:\n    url: ftp://example.com/\n", 7, "spec.http.url",
     "http"),
    ("tcp-port", "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata: {name: a}\n"
     "spec:\n  type: tcp\n  tcp:\n    host: db\n    port: 70000\n", 8, "spec.tcp.port",
     "65535|range"),
    ("record-type", "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata: {name: a}\n"
     "spec:\n  type: dns\n  dns:\n    name: example.com\n    recordType: SRV\n", 8,
     "spec.dns.recordType", "SRV|AAAA"),
    ("regex", "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata: {name: a}\nspec:\n"
     "  type: http\n  http: {url: 'http://example.com'}\n  assertions:\n"
     "    - {type: body, op: matches, value: '(unclosed'}\n", 8, "spec.assertions[0].value",
     None),
    ("retries", "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata: {name: a}\nspec:\n"
     "  type: tcp\n  tcp: {host: h, port: 1}\n  retries: -1\n", 7, "spec.retries", None),
    ("push-every", "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata: {name: a}\nspec:\n"
     "  type: push\n  push:\n    expectEvery: 100ms\n", 7, "spec.push.expectEvery", "1s"),
    ("push-token-sources", "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata: {name: a}\n"
     "spec:\n  type: push\n  push:\n    expectEvery: 1h\n    tokenFrom:\n      env: PING\n"
     "      file: /run/ping\n", 9, "spec.push.tokenFrom", "exactly one"),
    ("push-token-env", "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata: {name: a}\n"
     "spec:\n  type: push\n  push:\n    expectEvery: 1h\n    tokenFrom: {env: 1-bad}\n", 8,
     "spec.push.tokenFrom.env", "environment variable"),
])
def test_single_mistakes_are_located(validate, case, text, line, field, words):
    path = validate.write(f"{case}.yaml", text)
    completed = validate(path)
    assert completed.returncode == 2, completed.describe()
    assert_error_at(completed, path, line, field, words)


def test_mistakes_in_the_new_check_types_are_located(validate):
    path = validate.write("more.yaml", textwrap.dedent("""\
        apiVersion: pharos.dev/v1alpha1
        kind: Monitor
        metadata: {name: ping}
        spec:
          type: icmp
          timeout: 2s
          icmp:
            host: 127.0.0.1
            count: 500
            ipFamily: ipv5
          assertions:
            - {type: packetLoss, op: lt, value: "120"}
        ---
        apiVersion: pharos.dev/v1alpha1
        kind: Monitor
        metadata: {name: mail}
        spec:
          type: tcp
          tcp:
            host: mail.test
            port: 25
            resolve: some
            conversation:
              - {send: "EHLO x\\r\\n", expect: "250"}
              - {expectRegex: "250 (unclosed"}
              - {send: "QUIT\\r\\n", timeout: 1s}
          alerting: {addressQuorum: 0}
        ---
        apiVersion: pharos.dev/v1alpha1
        kind: Monitor
        metadata: {name: health}
        spec:
          type: grpc
          grpc:
            address: api.test
          assertions:
            - {type: certExpiry, op: gt, value: 168h}
        ---
        apiVersion: pharos.dev/v1alpha1
        kind: Monitor
        metadata: {name: nightly}
        spec:
          type: push
          push: {expectEvery: 100ms}
          assertions:
            - {type: latency, op: lt, value: 10m}
            - {type: statusCode, op: eq, value: "200"}
        ---
        apiVersion: pharos.dev/v1alpha1
        kind: Monitor
        metadata: {name: backends}
        spec:
          type: tcp
          target:
            service: {name: Checkout}
        """))
    completed = validate(path)
    assert completed.returncode == 2, completed.describe()
    assert_error_at(completed, path, 9, "spec.icmp.count", "100")
    assert_error_at(completed, path, 10, "spec.icmp.ipFamily", "ipv5")
    assert_error_at(completed, path, 12, "spec.assertions[0].value", "percentage")
    assert_error_at(completed, path, 22, "spec.tcp.resolve", "some")
    assert_error_at(completed, path, 24, "spec.tcp.conversation[0].expect", "one thing")
    assert_error_at(completed, path, 25, "spec.tcp.conversation[1].expectRegex", "regular")
    assert_error_at(completed, path, 26, "spec.tcp.conversation[2].timeout", "expect")
    assert_error_at(completed, path, 27, "spec.alerting.addressQuorum", "at least 1")
    assert_error_at(completed, path, 35, "spec.grpc.address", "port")
    assert_error_at(completed, path, 37, "spec.assertions[0].type", "tls")
    assert_error_at(completed, path, 44, "spec.push.expectEvery", "1s")
    assert_error_at(completed, path, 47, "spec.assertions[1].type", "http monitors only")
    assert_error_at(completed, path, 55, "spec.target.service.name", "Service name")
    assert_error_at(completed, path, 55, "spec.target.service.port", "required")
    # The latency assertion of the push monitor (its run time) is valid: no error on line 46.
    assert not [e for e in error_lines(completed, path) if e[0] == 46], completed.describe()


def test_missing_block_for_the_type_is_reported(validate):
    path = validate.write("no-http.yaml", "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\n"
                                          "metadata: {name: a}\nspec:\n  type: http\n")
    completed = validate(path)
    assert completed.returncode == 2
    assert any(rest.startswith("spec.http") for _, _, rest in error_lines(completed, path)), (
        completed.describe())


def test_lines_count_from_the_start_of_the_file_in_later_documents(validate):
    broken_second = VALID.replace("port: 5432", "port: not-a-number")
    path = validate.write("multi.yaml", broken_second)
    line = broken_second.splitlines().index("  tcp: {host: db.example.com, port: not-a-number}")
    completed = validate(path)
    assert completed.returncode == 2
    assert_error_at(completed, path, line + 1, "spec.tcp.port")


def test_errors_in_several_files_are_all_reported(validate):
    first = validate.write("one.yaml", VALID.replace("frequency: 1m", "frequency: 2m"))
    second = validate.write("two.yaml", VALID.replace("checkout-api", "x").replace(
        "name: db,", "name: db3,").replace("type: tcp", "type: udp"))
    completed = validate(first, second)
    assert completed.returncode == 2
    assert error_lines(completed, first) and error_lines(completed, second), completed.describe()


def test_duplicate_monitor_names_are_an_error(validate):
    first = validate.write("a.yaml", VALID)
    second = validate.write("b.yaml", VALID)
    completed = validate(first, second)
    assert completed.returncode == 2, completed.describe()
    assert "duplicate" in completed.output.lower()


@pytest.mark.parametrize("case, text, line", [
    ("bad-indent", "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata:\n  name: x\n"
     "   namespace: y\nspec:\n  type: http\n", 5),
    ("sequence-in-mapping", "apiVersion: pharos.dev/v1alpha1\nkind: Monitor\nmetadata:\n"
     "  name: x\nspec:\n  type: http\n  - item\n", 7),
])
def test_yaml_syntax_error_is_located(validate, case, text, line):
    path = validate.write(f"{case}.yaml", text)
    completed = validate(path)
    assert completed.returncode == 2, completed.describe()
    errors = error_lines(completed, path)
    assert [found for found in errors if found[0] == line], completed.describe()
    assert "yaml" in completed.output.lower()


def test_missing_file(validate):
    missing = validate.workdir / "nope.yaml"
    completed = validate(missing)
    assert completed.returncode == 2
    assert str(missing) in completed.output
    assert re.search(r"no such file|not found|does not exist|cannot (open|read)",
                     completed.output, re.IGNORECASE), completed.describe()


def test_no_path_is_a_usage_error(validate):
    completed = validate()
    assert completed.returncode == 2
    assert completed.stderr.strip()


def test_validate_help(validate):
    completed = pharos.run([validate.executable, "validate", "--help"], timeout=30)
    assert completed.returncode == 0 and "validate" in completed.stdout
