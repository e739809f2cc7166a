"""Real Prometheus and Alertmanager (Debian packages) for the e2e tests, plus the Pharos processes
they watch.

Everything listens on 127.0.0.1, keeps its data in a temporary directory and is stopped by PID
(SIGTERM, then SIGKILL after a grace period):

    from prometheus import (Prometheus, Alertmanager, PharosRun, PharosProbe,
                            chart_scrape_configs, tool)
    with PharosRun(paths, ca_file=...) as run, Prometheus(config, rule_files=[...]) as prom:
        prom.query('pharos_monitor_up')            # the `result` list of /api/v1/query

* `tool(name)` finds `prometheus`, `promtool` or `prometheus-alertmanager` and fails with
  "run scripts/setup" when the Debian package is missing (never a skip).
* `chart_scrape_endpoints()` reads the chart's ServiceMonitor and PodMonitor (values.yaml and
  the endpoint blocks of templates/servicemonitor.yaml and templates/podmonitor.yaml) and
  `chart_scrape_configs()` turns them into plain `scrape_configs` for static targets, as the
  Prometheus Operator would generate them: same metrics path, honor_labels and relabelings, the
  target labels the Operator adds (namespace, service, pod, endpoint, job), and the pod label
  `pharos.dev/region` as the meta label the PodMonitor's relabeling reads. Only the scrape
  interval differs (tests pass a short one so rate() windows fill within seconds).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

import yaml

import pharos

CHART_DIR = pharos.REPO_ROOT / "charts" / "pharos"
RULES_FILE = CHART_DIR / "files" / "rules" / "pharos-alerts.yaml"

# Names the chart gives things for `helm install pharos charts/pharos -n pharos` (the release
# name contains "pharos", so the full name is the release name).
RELEASE_NAMESPACE = "pharos"
FULLNAME = "pharos"

T = TypeVar("T")

TOOLS = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
}


class ToolMissing(RuntimeError):
    """A Debian binary the monitoring e2e tests need is not installed."""


def tool(name: str) -> str:
    """Absolute path of a Prometheus-stack binary; ToolMissing names the package to install."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK)
                                  else None)
    if not path:
        raise ToolMissing(f"{name} not found: install the Debian package '{TOOLS.get(name, name)}' "
                          f"(run scripts/setup, which installs every test dependency)")
    return path


# ------------------------------------------------------------------------------- chart settings


def _chart_values() -> dict:
    return yaml.safe_load((CHART_DIR / "values.yaml").read_text())


def _endpoint_block(template: Path, key: str, values: dict) -> dict:
    """The first endpoint of `key:` (endpoints / podMetricsEndpoints) in a chart template, with
    `{{ .name }}` references filled from `values` (the template's `with` scope)."""
    lines = template.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == f"{key}:"), None)
    if start is None:
        raise AssertionError(f"{template}: no '{key}:' block; update tests/support/prometheus.py "
                             f"to the chart's new layout")
    indent = len(lines[start]) - len(lines[start].lstrip())
    block = [lines[start]]
    for line in lines[start + 1:]:
        if line.strip() and (len(line) - len(line.lstrip()) <= indent or line.lstrip()
                             .startswith("{{")):
            break
        block.append(line)

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise AssertionError(f"{template}: {{{{ .{name} }}}} is not a key of {values}")
        return json.dumps(values[name])

    text = re.sub(r"\{\{-?\s*\.(\w+)\s*-?\}\}", fill, "\n".join(block))
    if "{{" in text:
        raise AssertionError(f"{template}: cannot render the '{key}' block without helm:\n{text}")
    endpoints = yaml.safe_load(text)[key]
    if not endpoints:
        raise AssertionError(f"{template}: '{key}' is empty")
    return endpoints[0]


def chart_scrape_endpoints() -> dict[str, dict]:
    """{"operator": ServiceMonitor endpoint, "probe": PodMonitor endpoint} as the chart renders
    them with its default values (port, path, interval, scrapeTimeout, honorLabels,
    relabelings)."""
    monitoring = _chart_values()["monitoring"]
    templates = CHART_DIR / "templates"
    return {
        "operator": _endpoint_block(templates / "servicemonitor.yaml", "endpoints",
                                    monitoring["serviceMonitor"]),
        "probe": _endpoint_block(templates / "podmonitor.yaml", "podMetricsEndpoints",
                                 monitoring["podMonitor"]),
    }


_RELABEL_KEYS = {"sourceLabels": "source_labels", "targetLabel": "target_label",
                 "separator": "separator", "regex": "regex", "replacement": "replacement",
                 "action": "action", "modulus": "modulus"}


def _relabel_configs(relabelings: Iterable[dict]) -> list[dict]:
    """Prometheus Operator RelabelConfig (camelCase) → Prometheus relabel_configs."""
    out = []
    for rule in relabelings:
        unknown = set(rule) - set(_RELABEL_KEYS)
        if unknown:
            raise AssertionError(f"chart relabeling with unsupported keys {unknown}: {rule}")
        out.append({_RELABEL_KEYS[key]: value for key, value in rule.items()})
    return out


def chart_scrape_configs(operator: str, probes: dict[str, str],
                         scrape_interval: str = "2s") -> list[dict]:
    """Static `scrape_configs` equivalent to the chart's ServiceMonitor (operator at
    `operator` = "HOST:PORT") and PodMonitor (`probes` = {"HOST:PORT": region}).

    Taken from the chart: metrics path, honor_labels, relabelings. Reproduced from what the
    Prometheus Operator generates: the job names and the target labels namespace, service, pod,
    endpoint and job (so that honor_labels matters exactly as in a cluster: the operator's
    series carry the Monitor's `namespace`, the target's `namespace` is the release's), and the
    probe pod's `pharos.dev/region` label as `__meta_kubernetes_pod_label_pharos_dev_region`.
    `scrape_interval` replaces the chart's interval (30s), the timeout is capped to it. No
    probe job without `probes`.
    """
    endpoints = chart_scrape_endpoints()
    configs = []
    for role, endpoint in endpoints.items():
        if role == "probe" and not probes:
            continue
        timeout = min(_seconds(endpoint.get("scrapeTimeout", "10s")), _seconds(scrape_interval))
        if role == "operator":
            job_name = f"serviceMonitor/{RELEASE_NAMESPACE}/{FULLNAME}/0"
            groups = [{"targets": [operator], "labels": {
                "namespace": RELEASE_NAMESPACE, "service": FULLNAME, "job": FULLNAME,
                "pod": f"{FULLNAME}-operator-0", "endpoint": str(endpoint["port"])}}]
        else:
            job_name = f"podMonitor/{RELEASE_NAMESPACE}/{FULLNAME}-probes/0"
            groups = [{"targets": [address], "labels": {
                "namespace": RELEASE_NAMESPACE, "job": f"{RELEASE_NAMESPACE}/{FULLNAME}-probes",
                "pod": f"{FULLNAME}-probe-{region}-{index}", "endpoint": str(endpoint["port"]),
                "__meta_kubernetes_pod_label_pharos_dev_region": region}}
                for index, (address, region) in enumerate(sorted(probes.items()))]
        configs.append({
            "job_name": job_name,
            "metrics_path": endpoint.get("path", "/metrics"),
            "scrape_interval": scrape_interval,
            "scrape_timeout": f"{timeout:g}s",
            "honor_labels": bool(endpoint.get("honorLabels", False)),
            "static_configs": groups,
            "relabel_configs": _relabel_configs(endpoint.get("relabelings", [])),
        })
    return configs


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", str(duration))
    if not match:
        raise AssertionError(f"unsupported duration {duration!r}")
    return float(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2)]


# ------------------------------------------------------------------------------- processes


def http_get(url: str, timeout: float = 10) -> tuple[int, str]:
    """(status, body) of a GET; HTTP error statuses are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


class Service:
    """A child process with its output in files under `workdir`, stopped by PID."""

    name = "service"

    def __init__(self, workdir: Path | None = None) -> None:
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"pharos-{self.name}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None
        self.args: list[str] = []
        self.stdout_path = self.workdir / f"{self.name}.out"
        self.stderr_path = self.workdir / f"{self.name}.err"

    def _spawn(self, args: list, env: dict[str, str] | None = None) -> None:
        self.args = [str(arg) for arg in args]
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.process = subprocess.Popen(self.args, stdout=out, stderr=err,
                                            stdin=subprocess.DEVNULL,
                                            env=dict(os.environ, **(env or {})),
                                            start_new_session=True)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_running(self) -> None:
        """Raises AssertionError with the process's output once it has exited."""
        if not self.running():
            raise AssertionError(f"{self.name} exited with {self.process.returncode}\n"
                                 + self.output())

    def wait(self, predicate: Callable[[], T], timeout: float, message: str,
             interval: float = 0.1) -> T:
        """Polls `predicate` until it returns something truthy. Fails at once (with the output)
        when the process exits, and at `timeout` naming `message`. Connection errors and
        unparsable answers count as "not yet"; assertion errors propagate."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            self.check_running()
            try:
                value = predicate()
                if value:
                    return value
            except (OSError, ValueError, KeyError) as error:
                last_error = error
            if time.monotonic() >= deadline:
                detail = f" (last error: {last_error!r})" if last_error else ""
                raise AssertionError(f"{self.name}: timed out after {timeout} s waiting for "
                                     f"{message}{detail}\n{self.output()}")
            time.sleep(interval)

    def output(self, tail: int = 12000) -> str:
        def read(path: Path) -> str:
            return path.read_text(errors="replace")[-tail:] if path.exists() else ""
        return (f"$ {' '.join(self.args)}\n--- stdout ---\n{read(self.stdout_path)}"
                f"\n--- stderr ---\n{read(self.stderr_path)}")

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM, then SIGKILL (the process group) after `timeout`; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.cleanup()


class _PortService(Service):
    """A service that cannot report the port it bound: it is given a free port and restarted on
    another one if that was taken meanwhile."""

    ready_path = "/-/ready"

    def _command(self, port: int) -> list[str]:
        raise NotImplementedError

    def _start_on_free_port(self, timeout: float) -> None:
        for _attempt in range(3):
            self.port = pharos.free_port()
            self.base = f"http://127.0.0.1:{self.port}"
            self._spawn(self._command(self.port))
            try:
                self.wait(lambda: http_get(self.base + self.ready_path, timeout=2)[0] == 200,
                          timeout, f"{self.base}{self.ready_path} to answer 200")
                return
            except AssertionError:
                self.stop()
                if "address already in use" not in self.output():
                    raise
        raise AssertionError(f"{self.name}: no free port after 3 attempts\n{self.output()}")


class PromQueryError(AssertionError):
    """Prometheus answered a query with an error (e.g. a parse error)."""


class Prometheus(_PortService):
    """Debian's Prometheus on 127.0.0.1 with `config` (a dict written as prometheus.yml) and
    `rule_files` copied next to it. Flags: a private TSDB directory, lifecycle API off."""

    name = "prometheus"

    def __init__(self, config: dict, rule_files: Iterable[Path] = (),
                 workdir: Path | None = None, timeout: float = 60) -> None:
        super().__init__(workdir)
        self.binary = tool("prometheus")
        config = dict(config)
        rules = []
        for index, path in enumerate(rule_files):
            copy = self.workdir / f"rules-{index}-{Path(path).name}"
            shutil.copy(path, copy)
            rules.append(str(copy))
        if rules:
            config["rule_files"] = rules
        self.config = config
        self.config_path = self.workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        checked = pharos.run([tool("promtool"), "check", "config", self.config_path], timeout=60)
        if checked.returncode != 0:
            raise AssertionError("promtool rejects the generated Prometheus configuration:\n"
                                 + checked.describe() + "\n" + self.config_path.read_text())
        self._start_on_free_port(timeout)

    def _command(self, port: int) -> list[str]:
        return [self.binary, f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.external-url=http://127.0.0.1:{port}/", "--log.level=info"]

    def api(self, path: str, **params) -> Any:
        """`data` of a GET on the HTTP API; PromQueryError carries Prometheus' error."""
        url = f"{self.base}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        status, body = http_get(url, timeout=30)
        try:
            answer = json.loads(body)
        except json.JSONDecodeError:
            raise PromQueryError(f"GET {url}: HTTP {status}, not JSON: {body[:500]}") from None
        if answer.get("status") != "success":
            raise PromQueryError(f"GET {url}: HTTP {status} {answer.get('errorType')}: "
                                 f"{answer.get('error')}")
        return answer["data"]

    def query(self, expr: str) -> list[dict]:
        """Instant query now: the result list (vector/matrix); a scalar becomes one sample."""
        data = self.api("query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def values(self, expr: str) -> dict[tuple, float]:
        """{sorted label items: value} of an instant vector query."""
        return {tuple(sorted(sample["metric"].items())): float(sample["value"][1])
                for sample in self.query(expr)}

    def targets(self) -> list[dict]:
        return self.api("targets")["activeTargets"]

    def wait_targets_up(self, count: int, timeout: float = 60) -> list[dict]:
        last: list[dict] = []

        def all_up():
            last[:] = self.targets()
            healthy = [t for t in last if t["health"] == "up"]
            return list(last) if len(last) == count and len(healthy) == count else None
        try:
            return self.wait(all_up, timeout, f"{count} Prometheus targets up", interval=0.5)
        except AssertionError as error:
            raise AssertionError(f"{error}\ntargets: {json.dumps(last, indent=1)}") from None

    def alerts(self) -> list[dict]:
        return self.api("alerts")["alerts"]


class Alertmanager(_PortService):
    """Debian's Alertmanager (prometheus-alertmanager) on 127.0.0.1 with `config` (a dict),
    clustering off, a private storage directory."""

    name = "alertmanager"

    def __init__(self, config: dict, workdir: Path | None = None, timeout: float = 60) -> None:
        super().__init__(workdir)
        self.binary = tool("prometheus-alertmanager")
        self.config_path = self.workdir / "alertmanager.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self._start_on_free_port(timeout)

    def _command(self, port: int) -> list[str]:
        return [self.binary, f"--config.file={self.config_path}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
                f"--web.external-url=http://127.0.0.1:{port}/", "--log.level=info"]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def alerts(self) -> list[dict]:
        status, body = http_get(self.base + "/api/v2/alerts")
        assert status == 200, f"alertmanager /api/v2/alerts: {status} {body}"
        return json.loads(body)


def promtool_check_metrics(text: str) -> pharos.Completed:
    """`promtool check metrics` with `text` on stdin."""
    return pharos.run([tool("promtool"), "check", "metrics"], input_text=text, timeout=60)


# ------------------------------------------------------------------------------- Pharos


class PharosRun(Service):
    """`pharos run --listen 127.0.0.1:0 ...` with the test CA trusted (PHAROS_CA_FILE); `base`
    is the address it printed."""

    name = "pharos-run"

    def __init__(self, paths: Iterable[Path], ca_file: str, workdir: Path,
                 extra_args: Iterable[str] = (), timeout: float = 60) -> None:
        super().__init__(workdir)
        self._spawn([pharos.binary("pharos"), "run", "--listen", "127.0.0.1:0", "--db",
                     self.workdir / "pharos.db", "--log-format", "json", *extra_args, *paths],
                    env={"PHAROS_CA_FILE": ca_file})
        try:
            self.base = self._wait_address(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_address(self, timeout: float) -> str:
        def printed():
            match = re.search(r"metrics: +(http://[^/\s]+)/metrics", self.stdout_path.read_text())
            return match.group(1) if match else None
        return self.wait(printed, timeout, "pharos run to print its address")

    @property
    def address(self) -> str:
        return self.base.removeprefix("http://")

    def monitors(self) -> dict[str, dict]:
        status, body = http_get(self.base + "/api/v1/monitors")
        assert status == 200, f"/api/v1/monitors: {status} {body}"
        return {m["name"]: m for m in json.loads(body)["monitors"]}

    def wait_states(self, expected: dict[str, str], timeout: float = 60) -> dict[str, dict]:
        last: dict[str, str] = {}

        def reached():
            monitors = self.monitors()
            last.clear()
            last.update({name: m.get("state") for name, m in monitors.items()})
            if all(last.get(name) == state for name, state in expected.items()):
                return monitors
            return None
        try:
            return self.wait(reached, timeout, f"monitor states {expected}", interval=0.25)
        except AssertionError as error:
            raise AssertionError(f"last states: {last}\n{error}") from None


class PharosProbe(Service):
    """An external `pharos-probe` for `region`, serving its /metrics on a port it picks; the
    target CA is trusted through PHAROS_CA_FILE."""

    name = "pharos-probe"

    def __init__(self, operator: str, region: str, token_file: Path, ca_file: str,
                 workdir: Path, probe_name: str | None = None, timeout: float = 60) -> None:
        super().__init__(workdir)
        self.region = region
        self._spawn([pharos.binary("pharos-probe"), "--operator", operator, "--region", region,
                     "--token-file", token_file, "--listen", "127.0.0.1:0",
                     "--name", probe_name or f"probe-{region}", "--log-format", "json"],
                    env={"PHAROS_CA_FILE": ca_file})
        try:
            self.base = self._wait_address(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_address(self, timeout: float) -> str:
        def logged():
            for line in self.stderr_path.read_text().splitlines():
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if event.get("msg", "").startswith("serving /metrics"):
                    return event["address"]
            return None
        return self.wait(logged, timeout, "pharos-probe to log its /metrics address")

    @property
    def address(self) -> str:
        return self.base.removeprefix("http://").removeprefix("https://")

    def wait_ready(self, timeout: float = 60) -> None:
        """Registered with the operator (/readyz 200)."""
        self.wait(lambda: http_get(self.base + "/readyz", timeout=2)[0] == 200, timeout,
                  f"pharos-probe {self.region} to register (/readyz 200)", interval=0.2)
