"""Python handle on a real Kubernetes control plane (etcd + kube-apiserver).

Thin wrapper around ``tests/k8s/control-plane`` (which uses
``tests/k8s/build-tools`` to build the pinned binaries on first use)::

    from control_plane import ControlPlane   # tests/k8s on sys.path

    with ControlPlane(tmp_path / "cp") as cp:
        cp.kubectl("get", "ns")
        cp.kubectl("auth", "can-i", "list", "pods", kubeconfig=cp.kubeconfig_operator, check=False)
        cp.restart_apiserver()   # same URL, same etcd data
        cp.stop_apiserver(); cp.start_apiserver()   # an outage as long as the caller likes
        cp.compact()             # etcd compaction at the current revision -> old RVs give 410

Nothing here is faked: every call goes to a real kube-apiserver on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import time
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

K8S_DIR = Path(__file__).resolve().parent
CONTROL_PLANE_SCRIPT = K8S_DIR / "control-plane"
BUILD_TOOLS_SCRIPT = K8S_DIR / "build-tools"

PathLike = Union[str, os.PathLike]


class ToolFailed(subprocess.CalledProcessError):
    """A kubectl or helm command that failed, with what it printed in the message: pytest shows
    only str(exception), and the exit status alone does not say why a command failed."""

    def __str__(self) -> str:
        return (f"{super().__str__()}\nstderr: {(self.stderr or '').strip()[-2000:]}"
                f"\nstdout: {(self.stdout or '').strip()[-2000:]}")


def build_tools(timeout: Optional[float] = None) -> Path:
    """Build (or find in the cache) the pinned binaries; return their bin dir."""
    proc = subprocess.run(
        [str(BUILD_TOOLS_SCRIPT)], stdout=subprocess.PIPE, text=True, timeout=timeout, check=True
    )
    return Path(proc.stdout.strip().splitlines()[-1])


def require_tools(*tools: str) -> Path:
    """The bin dir of ``build-tools`` holding ``tools``, without building anything.

    ``PHAROS_K8S_BIN`` names it when set (scripts/test sets it); else it is the cache entry for the
    current pins. When a tool is missing the calling pytest test fails, saying how to get them.
    """
    explicit = os.environ.get("PHAROS_K8S_BIN")
    if explicit:
        bin_dir = Path(explicit)
    else:
        key = hashlib.sha256((K8S_DIR / "versions.env").read_bytes()
                             + BUILD_TOOLS_SCRIPT.read_bytes()).hexdigest()[:16]
        cache = Path(os.environ.get("PHAROS_K8S_CACHE") or K8S_DIR.parents[1] / ".cache" / "k8s")
        bin_dir = cache / key / "bin"
    missing = [t for t in tools if not os.access(bin_dir / t, os.X_OK)]
    if missing or (not explicit and not (bin_dir / ".complete").exists()):
        import pytest  # only the tests call this

        what = ", ".join(missing) or "build incomplete"
        pytest.fail(f"Kubernetes test tools missing in {bin_dir} ({what}): run "
                    f"tests/k8s/build-tools (builds {', '.join(tools)}), or set PHAROS_K8S_BIN to a "
                    f"directory holding them", pytrace=False)
    return bin_dir


def read_env_file(path: PathLike) -> dict:
    """Parse the ``DIR/env`` file written by ``control-plane start`` (NAME=%q lines)."""
    env = {}
    for line in Path(path).read_text().splitlines():
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        words = shlex.split(value) if value else [""]
        env[name] = words[0] if words else ""
    return env


class ControlPlaneError(RuntimeError):
    pass


class ControlPlane:
    """A real etcd + kube-apiserver in ``workdir``; use as a context manager.

    Options:
      controller_manager: also run kube-controller-manager (namespace deletion,
        garbage collection, ServiceAccount tokens, ...).
      apiserver_args: extra kube-apiserver flags, e.g. ["--watch-cache=false"]
        (kept across restart_apiserver()).
      start_timeout: seconds to wait for readiness.
    """

    def __init__(
        self,
        workdir: PathLike,
        *,
        controller_manager: bool = False,
        apiserver_args: Sequence[str] = (),
        start_timeout: float = 90,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.controller_manager = controller_manager
        self.apiserver_args = list(apiserver_args)
        self.start_timeout = start_timeout
        self.env: dict = {}
        self._started = False

    # ------------------------------------------------------------ lifecycle
    def _run_script(self, command: str, extra_env: Optional[Mapping[str, str]] = None,
                    timeout: Optional[float] = None) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        if extra_env:
            env.update(extra_env)
        proc = subprocess.run(
            [str(CONTROL_PLANE_SCRIPT), command, str(self.workdir)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout,
        )
        if proc.returncode != 0:
            raise ControlPlaneError(
                f"control-plane {command} {self.workdir} failed (exit {proc.returncode}):\n"
                f"{proc.stderr}{proc.stdout}"
            )
        return proc

    def _reload_env(self) -> None:
        self.env = read_env_file(self.workdir / "env")

    def start(self) -> "ControlPlane":
        extra = {
            "PHAROS_K8S_START_TIMEOUT": str(int(self.start_timeout)),
            "PHAROS_K8S_CONTROLLER_MANAGER": "1" if self.controller_manager else "0",
            "PHAROS_K8S_APISERVER_ARGS": " ".join(self.apiserver_args),
        }
        # build-tools may compile for a long time on the first run: no timeout here.
        self._run_script("start", extra)
        self._started = True
        self._reload_env()
        return self

    def stop(self) -> None:
        if (self.workdir / "env").exists():
            self._run_script("stop", timeout=120)
        self._started = False

    def restart_apiserver(self) -> None:
        self._run_script("restart-apiserver",
                         {"PHAROS_K8S_START_TIMEOUT": str(int(self.start_timeout))})
        self._reload_env()

    def stop_apiserver(self) -> None:
        """Stop only kube-apiserver (TERM by PID, then KILL); etcd and its data stay."""
        self._run_script("stop-apiserver", timeout=60)
        self._reload_env()

    def start_apiserver(self) -> None:
        """Start kube-apiserver again after stop_apiserver(): same port, same flags, same data."""
        self._run_script("start-apiserver",
                         {"PHAROS_K8S_START_TIMEOUT": str(int(self.start_timeout))})
        self._reload_env()

    def compact(self) -> int:
        """Compact etcd at its current revision; returns that revision."""
        proc = self._run_script("compact", timeout=60)
        return int(proc.stdout.strip().splitlines()[-1])

    def is_running(self) -> bool:
        return self._run_status() == 0

    def _run_status(self) -> int:
        return subprocess.run([str(CONTROL_PLANE_SCRIPT), "status", str(self.workdir)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode

    def __enter__(self) -> "ControlPlane":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------ facts
    @property
    def kubeconfig(self) -> Path:
        """Admin (system:masters) via a bearer token; CA embedded as data."""
        return self.workdir / "kubeconfig"

    @property
    def kubeconfig_cert(self) -> Path:
        """Admin via a client certificate; CA/cert/key as paths relative to the file."""
        return self.workdir / "kubeconfig-cert"

    @property
    def kubeconfig_operator(self) -> Path:
        """system:serviceaccount:pharos-system:pharos-operator via a token; RBAC only."""
        return self.workdir / "kubeconfig-operator"

    @property
    def url(self) -> str:
        return self.env["KUBE_APISERVER_URL"]

    @property
    def etcd_url(self) -> str:
        return self.env["ETCD_URL"]

    @property
    def bin_dir(self) -> Path:
        return Path(self.env["BIN"])

    @property
    def ca_file(self) -> Path:
        return Path(self.env["CA_FILE"])

    @property
    def admin_token(self) -> str:
        return self.env["ADMIN_TOKEN"]

    @property
    def operator_token(self) -> str:
        return self.env["OPERATOR_TOKEN"]

    @property
    def operator_user(self) -> str:
        return self.env["OPERATOR_USER"]

    @property
    def pids(self) -> dict:
        names = {"ETCD_PID": "etcd", "APISERVER_PID": "kube-apiserver",
                 "CONTROLLER_MANAGER_PID": "kube-controller-manager"}
        return {names[k]: int(self.env[k]) for k in names if self.env.get(k)}

    # ------------------------------------------------------------ tools
    def kubectl(self, *args: str, kubeconfig: Optional[PathLike] = None, check: bool = True,
                input: Optional[str] = None, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run the pinned kubectl against this control plane (admin kubeconfig by default)."""
        cmd = [str(self.bin_dir / "kubectl"), "--kubeconfig", str(kubeconfig or self.kubeconfig),
               *map(str, args)]
        proc = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise ToolFailed(proc.returncode, cmd, proc.stdout, proc.stderr)
        return proc

    def wait_crds_established(self, *names: str, timeout: float = 60) -> None:
        """Wait until every named CustomResourceDefinition is Established (its resources served).

        Not `kubectl wait --for condition=Established`: the pinned kubectl fails at once ("status.
        conditions accessor error: <nil>") when it reads a CRD the API server has not yet given any
        condition, which happens right after an apply."""
        deadline = time.monotonic() + timeout
        pending = set(names)
        while True:
            for name in sorted(pending):
                proc = self.kubectl("get", "crd", name, "-o", "json", check=False)
                if proc.returncode == 0:
                    conditions = json.loads(proc.stdout).get("status", {}).get("conditions") or []
                    if any(c.get("type") == "Established" and c.get("status") == "True"
                           for c in conditions):
                        pending.discard(name)
            if not pending:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRDs not Established after {timeout:.0f} s: "
                                   f"{', '.join(sorted(pending))}")
            time.sleep(0.2)

    def helm(self, *args: str, kubeconfig: Optional[PathLike] = None, check: bool = True,
             timeout: float = 300) -> subprocess.CompletedProcess:
        """Run the pinned helm against this control plane (helm state kept under workdir)."""
        home = self.workdir / "helm-home"
        env = dict(os.environ,
                   HELM_CACHE_HOME=str(home / "cache"), HELM_CONFIG_HOME=str(home / "config"),
                   HELM_DATA_HOME=str(home / "data"))
        cmd = [str(self.bin_dir / "helm"), "--kubeconfig", str(kubeconfig or self.kubeconfig),
               *map(str, args)]
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise ToolFailed(proc.returncode, cmd, proc.stdout, proc.stderr)
        return proc
