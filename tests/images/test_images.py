"""The images of scripts/images, run on this machine (not part of CI: `scripts/images --test`
builds them and runs this file; docs/install.md#testing-the-images).

What is checked:
- layout: user, entrypoint, working directory, labels, ports, volumes; the root filesystem's user
  pharos, /var/lib/pharos, /etc/pharos/monitors.d, the binaries' libraries all present; and that
  docker/Dockerfile declares the same configuration for each of its targets;
- each image's entrypoint `--version` under runc on the unpacked OCI bundle (read-only root) and
  under podman (read-only root, all capabilities dropped, no-new-privileges); crun is tried and
  skipped with its exact error when this machine's cgroup setup refuses it;
- the standalone image checking local targets from its default Monitor directory;
- the probe-chromium image as the screenshot sidecar (read-only root, a tmpfs /tmp): it captures
  a local page and its browser obeys --deny-cidr (a page on a denied address fails with the
  policy's reason);
- the probe image against a running operator (`pharos run --probe-token-file` in the pharos
  image serves the probe API): a Monitor of the probe's region becomes Up from its results;
- pushing to a registry (a local docker-registry on 127.0.0.1) with `scripts/images push`, and
  pulling back the same digest;
- reproducibility: packing again from the same binaries gives the same digests.

Environment: IMAGES_OUT (default build-images), PHAROS_IMAGES_SKIP_REPRO=1 skips the rebuild
(about 3 minutes); PHAROS_IMAGES_DOCKERFILE=1 also builds docker/Dockerfile's three targets with
buildah (about 20 minutes: a whole Release build inside the build stage) and compares them with
these images. No registry is reachable here, so its bases debian:bookworm and
debian:bookworm-slim are made with mmdebstrap (minbase; the slim one without documentation, like
Debian's) and imported into podman's storage under those names, unless they are there already.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

import pharos
from target_server import TargetServer

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(os.environ.get("IMAGES_OUT", ROOT / "build-images")).resolve()
VERSION = re.search(r"project\(pharos VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text())[1]
PREFIX = os.environ.get("IMAGE_PREFIX", "ghcr.io/pharos-dev")
IMAGES = {
    # name: (Dockerfile target, binary, port, volume, cmd)
    "pharos-operator": ("operator", "pharos-operator", "8080/tcp", "/var/lib/pharos", None),
    "pharos-probe": ("probe", "pharos-probe", "9091/tcp", None, None),
    "pharos": ("pharos", "pharos", "8080/tcp", "/var/lib/pharos",
               ["run", "--listen", "0.0.0.0:8080"]),
    # The screenshot sidecar: the probe with Debian's chromium and fonts.
    "pharos-probe-chromium": ("probe-chromium", "pharos-probe", "9091/tcp", None, None),
}
# This machine's root lacks CAP_SYS_RESOURCE: podman's default rlimits (nofile 1048576, nproc
# 4194304) cannot be set ("setrlimit RLIMIT_NPROC: Operation not permitted"), so lower ones are
# passed; a normal host needs none of this.
PODMAN = ["podman", "--runtime", "runc"]
PODMAN_RUN = [*PODMAN, "run", "--rm", "--read-only", "--cap-drop=ALL",
              "--security-opt=no-new-privileges", "--ulimit", "nofile=4096:4096",
              "--ulimit", "nproc=4096:4096"]


def run(args: list[str], timeout: float = 300, check: bool = True,
        **kwargs) -> subprocess.CompletedProcess:
    completed = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and completed.returncode != 0:
        raise AssertionError(f"$ {shlex.join(args)}\nexit {completed.returncode}\n"
                             f"--- stdout ---\n{completed.stdout}\n--- stderr ---\n"
                             f"{completed.stderr}")
    return completed


def layout(name: str) -> str:
    return f"oci:{OUT / 'oci' / name}:{VERSION}"


@pytest.fixture(scope="session", autouse=True)
def built():
    if not (OUT / "images.txt").is_file():
        pytest.fail(f"no images in {OUT}: run scripts/images first", pytrace=False)


@pytest.fixture(scope="session")
def podman_images():
    """Loads the OCI archives into podman's storage; returns name -> reference."""
    references = {}
    for name in IMAGES:
        out = run(["podman", "load", "-i", str(OUT / f"{name}-{VERSION}.oci.tar")]).stdout
        assert f"{PREFIX}/{name}:{VERSION}" in out, out
        references[name] = f"{PREFIX}/{name}:{VERSION}"
    return references


@pytest.fixture(scope="session")
def bundles(tmp_path_factory):
    """Each image unpacked by umoci into an OCI runtime bundle (rootfs/ + config.json)."""
    base = tmp_path_factory.mktemp("bundles")
    result = {}
    for name in IMAGES:
        run(["umoci", "unpack", "--image", layout(name)[len("oci:"):], str(base / name)])
        result[name] = base / name
    return result


def image_config(name: str) -> dict:
    return json.loads(run(["skopeo", "inspect", "--config", layout(name)]).stdout)


# ------------------------------------------------------------------------------------ layout


@pytest.mark.parametrize("name", IMAGES)
def test_configuration(name):
    _, binary, port, volume, cmd = IMAGES[name]
    config = image_config(name)["config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == [f"/usr/local/bin/{binary}"]
    assert config.get("Cmd") == cmd
    assert config["WorkingDir"] == "/var/lib/pharos"
    assert list(config["ExposedPorts"]) == [port]
    assert list(config.get("Volumes") or {}) == ([volume] if volume else [])
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == name
    assert labels["org.opencontainers.image.version"] == VERSION
    assert re.fullmatch(r"[0-9a-f]{40}", labels["org.opencontainers.image.revision"])
    for key in ("created", "description", "source", "url", "documentation", "vendor"):
        assert labels[f"org.opencontainers.image.{key}"], key
    manifest = json.loads(run(["skopeo", "inspect", "--raw", layout(name)]).stdout)
    assert manifest["annotations"]["org.opencontainers.image.title"] == name


@pytest.mark.parametrize("name", IMAGES)
def test_root_filesystem(name, bundles):
    rootfs = bundles[name] / "rootfs"
    binary = rootfs / "usr/local/bin" / IMAGES[name][1]
    assert binary.stat().st_uid == 0 and oct(binary.stat().st_mode & 0o7777) == "0o755"
    assert "pharos:x:65532:65532:Pharos:/var/lib/pharos:/usr/sbin/nologin" in \
        (rootfs / "etc/passwd").read_text().splitlines()
    assert "pharos:x:65532:" in (rootfs / "etc/group").read_text().splitlines()
    state = (rootfs / "var/lib/pharos").stat()
    assert (state.st_uid, state.st_gid, oct(state.st_mode & 0o7777)) == (65532, 65532, "0o750")
    assert (rootfs / "etc/pharos/monitors.d").is_dir()
    assert (rootfs / "etc/ssl/certs/ca-certificates.crt").stat().st_size > 100_000
    assert not (rootfs / "dev").exists() or not any((rootfs / "dev").iterdir()), \
        "device nodes in a layer"
    assert not (rootfs / "usr/share/man/man1").exists() or \
        not any((rootfs / "usr/share/man/man1").iterdir()), "documentation not stripped"
    # Every library the binary needs is in the image (the loader of the image resolves them).
    ldd = run(["chroot", str(rootfs), "/usr/bin/ldd", f"/usr/local/bin/{IMAGES[name][1]}"])
    assert "not found" not in ldd.stdout, ldd.stdout
    listed = {line.split("#")[0].split()[0] for line in
              (ROOT / "docker/runtime-packages.txt").read_text().splitlines()
              if line.split("#")[0].strip()}
    status = (rootfs / "var/lib/dpkg/status").read_text()
    installed = {re.search(r"^Package: (\S+)", stanza, re.M)[1]
                 for stanza in status.split("\n\n")
                 if re.search(r"^Status: install ok installed", stanza, re.M)}
    assert listed <= installed, listed - installed


def dockerfile_stages() -> dict[str, list[tuple[str, str]]]:
    """docker/Dockerfile as {stage: [(INSTRUCTION, arguments)]}, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "docker/Dockerfile").read_text())
    stages: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        if instruction == "FROM":
            parent, _, current = arguments.partition(" AS ")
            stages[current] = list(stages.get(parent.strip(), []))
            continue
        if current:
            stages[current].append((instruction, arguments.strip()))
    return stages


def dockerfile_config(instructions: list[tuple[str, str]]) -> dict:
    config: dict = {"Labels": {}, "Env": [], "Volumes": {}, "ExposedPorts": {}}
    for instruction, arguments in instructions:
        if instruction == "LABEL":
            for key, value in re.findall(r'(\S+?)="([^"]*)"', arguments):
                config["Labels"][key] = value
        elif instruction == "ENV":
            config["Env"].append(arguments)
        elif instruction == "USER":
            config["User"] = arguments
        elif instruction == "WORKDIR":
            config["WorkingDir"] = arguments
        elif instruction == "STOPSIGNAL":
            config["StopSignal"] = arguments
        elif instruction == "EXPOSE":
            config["ExposedPorts"][f"{arguments}/tcp"] = {}
        elif instruction == "VOLUME":
            for volume in json.loads(arguments):
                config["Volumes"][volume] = {}
        elif instruction in ("ENTRYPOINT", "CMD"):
            config["Entrypoint" if instruction == "ENTRYPOINT" else "Cmd"] = json.loads(arguments)
        elif instruction == "RUN" and "useradd" in arguments:
            config["useradd"] = arguments
    return config


@pytest.mark.parametrize("name", IMAGES)
def test_dockerfile_declares_the_same_image(name):
    target = IMAGES[name][0]
    declared = dockerfile_config(dockerfile_stages()[target])
    built = image_config(name)["config"]
    for key in ("User", "WorkingDir", "Entrypoint", "Env", "StopSignal", "ExposedPorts"):
        assert declared.get(key) == built.get(key), key
    assert declared.get("Cmd") == built.get("Cmd")
    assert declared["Volumes"] == (built.get("Volumes") or {})
    for key, value in declared["Labels"].items():
        if key.rsplit(".", 1)[-1] in ("revision", "version", "created"):
            continue  # build arguments in the Dockerfile
        assert built["Labels"].get(key) == value, key
    assert set(built["Labels"]) == set(declared["Labels"])
    # Its useradd gives the passwd line scripts/images writes (test_root_filesystem).
    assert re.search(r"useradd --uid 65532 --gid 65532 --comment Pharos --home-dir "
                     r"/var/lib/pharos --no-create-home +--shell /usr/sbin/nologin pharos",
                     declared["useradd"]), declared["useradd"]


# ------------------------------------------------------------------------------------ running


@pytest.mark.parametrize("name", IMAGES)
def test_version_under_runc(name, bundles, tmp_path):
    """runc on the bundle umoci unpacked, read-only root, as the image's user."""
    bundle = bundles[name]
    config = json.loads((bundle / "config.json").read_text())
    assert config["process"]["user"]["uid"] == 65532
    config["process"]["args"] = [config["process"]["args"][0], "--version"]
    config["process"]["terminal"] = False
    config["root"]["readonly"] = True
    (bundle / "config.json").write_text(json.dumps(config))
    completed = run(["runc", "run", "--bundle", str(bundle), f"pharos-test-{name}-{os.getpid()}"],
                    timeout=60)
    assert completed.stdout.strip() == f"{IMAGES[name][1]} {VERSION}"


@pytest.mark.parametrize("name", IMAGES)
def test_version_under_podman(name, podman_images):
    completed = run([*PODMAN_RUN, "--network=none", podman_images[name], "--version"],
                    timeout=120)
    assert completed.stdout.strip() == f"{IMAGES[name][1]} {VERSION}"


def test_version_under_podman_with_crun(podman_images):
    completed = run(["podman", "--runtime", "crun", "run", "--rm", "--read-only", "--network=none",
                     "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
                     podman_images["pharos"], "--version"], timeout=120, check=False)
    if completed.returncode != 0 and "cgroups in hybrid mode not supported" in completed.stderr:
        pytest.skip(f"crun cannot run here: {completed.stderr.strip()}")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == f"pharos {VERSION}"


class Container:
    """A detached podman container on the host network; removed at the end."""

    def __init__(self, image: str, args: list[str], volumes: list[str], env: list[str],
                 name: str, extra: list[str] = ()) -> None:
        self.name = f"{name}-{os.getpid()}-{time.monotonic_ns()}"
        options = [*extra] + [arg for volume in volumes for arg in ("--volume", volume)]
        options += [arg for variable in env for arg in ("--env", variable)]
        run([*PODMAN_RUN, "--detach", "--name", self.name, "--network=host", *options,
             image, *args], timeout=120)

    def logs(self) -> str:
        completed = run(["podman", "logs", self.name], check=False)
        return completed.stdout + completed.stderr

    def stop(self) -> int:
        run(["podman", "stop", "--time", "20", self.name], check=False, timeout=60)
        return 0


@pytest.fixture
def containers():
    started: list[Container] = []

    def start(image, args, volumes=(), env=(), name="pharos", extra=()):
        container = Container(image, list(args), list(volumes), list(env), name, list(extra))
        started.append(container)
        return container

    yield start
    for container in started:
        run([*PODMAN, "rm", "--force", container.name], check=False, timeout=60)


def monitors(base: str) -> dict[str, dict]:
    answer = requests.get(f"{base}/api/v1/monitors", timeout=10)
    answer.raise_for_status()
    return {monitor["name"]: monitor for monitor in answer.json()["monitors"]}


def wait_states(base: str, expected: dict[str, str], container: Container, timeout=90):
    def reached():
        current = monitors(base)
        return all(current.get(name, {}).get("state") == state
                   for name, state in expected.items()) and current
    try:
        return pharos.wait_for(reached, timeout=timeout, interval=0.5,
                               message=f"states {expected}")
    except TimeoutError as error:
        raise AssertionError(f"{error}\n{container.logs()}") from None


def http_monitor(name, url, **spec):
    return pharos.monitor(name, "http", frequency="10s", timeout="3s", http={"url": url},
                          alerting={"failureThreshold": 1, "successThreshold": 1}, **spec)


def test_standalone_image_checks_local_targets(podman_images, containers, tmp_path):
    """The pharos image with its default Monitor directory (/etc/pharos/monitors.d, mounted
    read-only) and its state on a volume; the targets are on the host's loopback."""
    with TargetServer() as target:
        monitors_dir = tmp_path / "monitors.d"
        pharos.write_monitors(monitors_dir, [
            http_monitor("web-up", target.url("/status/200")),
            http_monitor("web-down", target.url("/status/503")),
            http_monitor("tls-up", target.url("/health", listener="https")),
        ])
        state = tmp_path / "state"
        state.mkdir()
        os.chown(state, 65532, 65532)
        port = pharos.free_port()
        container = containers(
            podman_images["pharos"], ["run", "--listen", f"127.0.0.1:{port}"],
            [f"{monitors_dir}:/etc/pharos/monitors.d:ro", f"{state}:/var/lib/pharos",
             f"{target.ca_file}:/etc/pharos/ca.pem:ro"],
            # The target server's CA, through the environment like any user would.
            env=["PHAROS_CA_FILE=/etc/pharos/ca.pem"])
        base = f"http://127.0.0.1:{port}"
        wait_states(base, {"web-up": "Up", "web-down": "Down", "tls-up": "Up"}, container)
        logs = container.logs()
        assert "no PATH given: running the Monitors in /etc/pharos/monitors.d" in logs, logs
        assert (state / "pharos.db").is_file(), "the database is not on the volume"


def test_probe_image_against_a_running_operator(podman_images, containers, tmp_path):
    """`pharos run --probe-token-file` (pharos image) serves the probe API; the pharos-probe
    image registers for region eu-test and its results make a Monitor of that region Up."""
    with TargetServer() as target:
        config = tmp_path / "config"
        config.mkdir()
        (config / "tokens").write_text("eu-test=image-test-token\n")
        (config / "token").write_text("image-test-token\n")
        pharos.write_monitors(config, [
            http_monitor("eu-api", target.url("/status/200"), regions=["eu-test"])])
        os.chmod(config / "token", 0o644)
        state = tmp_path / "state"
        state.mkdir()
        os.chown(state, 65532, 65532)
        port, probe_port = pharos.free_port(), pharos.free_port()
        operator = containers(
            podman_images["pharos"],
            ["run", "--listen", f"127.0.0.1:{port}", "--probe-token-file", "/config/tokens",
             "/config/monitors.yaml"],
            [f"{config}:/config:ro", f"{state}:/var/lib/pharos"], name="operator")
        base = f"http://127.0.0.1:{port}"
        pharos.wait_for(lambda: requests.get(f"{base}/readyz", timeout=5).ok, timeout=60,
                        message="pharos run ready")
        probe = containers(
            podman_images["pharos-probe"],
            ["--operator", base, "--region", "eu-test", "--token-file", "/config/token",
             "--listen", f"127.0.0.1:{probe_port}", "--name", "image-probe"],
            [f"{config}:/config:ro"], name="probe")
        current = wait_states(base, {"eu-api": "Up"}, probe)
        regions = {region["name"] for region in current["eu-api"]["regions"]}
        assert regions == {"eu-test"}, current["eu-api"]
        metrics = requests.get(f"http://127.0.0.1:{probe_port}/metrics", timeout=5).text
        assert "pharos_build_info" in metrics
        assert "image-test-token" not in probe.logs() + operator.logs(), "a token was logged"


def test_probe_chromium_image_is_the_screenshot_sidecar(podman_images, containers, bundles):
    rootfs = bundles["pharos-probe-chromium"] / "rootfs"
    assert (rootfs / "usr/bin/chromium").exists()
    assert list((rootfs / "usr/share/fonts/truetype").glob("liberation*/LiberationSans-Regular.ttf"))
    assert list((rootfs / "usr/share/fonts/truetype").glob("dejavu/DejaVuSans.ttf"))
    with TargetServer() as target:
        port = pharos.free_port()
        sidecar = containers(
            podman_images["pharos-probe-chromium"],
            ["screenshot-server", "--listen", f"127.0.0.1:{port}", "--timeout", "60s",
             "--deny-cidr", "127.0.0.2/32"],
            name="sidecar", extra=["--tmpfs", "/tmp"])
        base = f"http://127.0.0.1:{port}"

        def healthy():
            try:
                return requests.get(f"{base}/healthz", timeout=2).ok
            except requests.RequestException:
                return False
        pharos.wait_for(healthy, timeout=60, message="the sidecar's /healthz")
        shot = requests.post(f"{base}/capture", json={"url": target.url("/status/200")},
                             timeout=120)
        assert shot.status_code == 200, f"{shot.text}\n{sidecar.logs()}"
        assert shot.content[:8] == b"\x89PNG\r\n\x1a\n"
        refused = requests.post(f"{base}/capture", json={"url": "http://127.0.0.2:9/"},
                                timeout=120)
        assert refused.status_code == 502, refused.text
        assert "target address 127.0.0.2 is blocked by the probe's policy" in \
            refused.json()["error"]


# ------------------------------------------------------------------------------------ push


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """Debian's docker-registry on 127.0.0.1 (plain HTTP), stopped by PID."""
    binary = shutil.which("docker-registry")
    if not binary:
        pytest.skip("docker-registry not installed (scripts/images --test installs it)")
    base = tmp_path_factory.mktemp("registry")
    port = pharos.free_port()
    (base / "config.yml").write_text(yaml.safe_dump({
        "version": 0.1, "storage": {"filesystem": {"rootdirectory": str(base / "data")}},
        "http": {"addr": f"127.0.0.1:{port}"}, "log": {"level": "warn"}}))
    with open(base / "log", "w") as log:
        process = subprocess.Popen([binary, "serve", str(base / "config.yml")], stdout=log,
                                   stderr=log, start_new_session=True)
    try:
        pharos.wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/v2/", timeout=2).ok,
                        timeout=30, message="docker-registry")
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_push_to_a_registry(registry):
    run([str(ROOT / "scripts/images"), "push", f"{registry}/pharos", "--dest-tls-verify=false"],
        timeout=600)
    digests = {line.split()[0]: line.split()[2]
               for line in (OUT / "images.txt").read_text().splitlines()}
    for name in IMAGES:
        pushed = run(["skopeo", "inspect", "--tls-verify=false",
                      f"docker://{registry}/pharos/{name}:{VERSION}"]).stdout
        assert json.loads(pushed)["Digest"] == digests[name], name


# ------------------------------------------------------------------------------------ reproducible


@pytest.mark.skipif(os.environ.get("PHAROS_IMAGES_SKIP_REPRO") == "1", reason="asked to skip")
def test_packing_again_gives_the_same_digests(tmp_path):
    again = tmp_path / "again"
    # The same inputs: binaries, timestamp and revision (a commit made since must not count).
    labels = image_config("pharos")["config"]["Labels"]
    epoch = int(datetime.datetime.fromisoformat(
        labels["org.opencontainers.image.created"].replace("Z", "+00:00")).timestamp())
    env = dict(os.environ, IMAGES_OUT=str(again), PHAROS_BIN_DIR=str(OUT / "bin"),
               SOURCE_DATE_EPOCH=str(epoch),
               PHAROS_REVISION=labels["org.opencontainers.image.revision"])
    run([str(ROOT / "scripts/images")], env=env, timeout=1200)
    assert (again / "images.txt").read_text() == (OUT / "images.txt").read_text()


# ------------------------------------------------------------------------------------ Dockerfile


def make_base(tmp_path, name: str, slim: bool) -> None:
    """debian:bookworm(-slim) in podman's storage, made with mmdebstrap unless present."""
    if run(["podman", "image", "exists", f"docker.io/library/{name}"], check=False).returncode == 0:
        return
    options = ["--variant=minbase", "--skip=output/dev",
               "--customize-hook=rm -f \"$1/etc/resolv.conf\" \"$1/etc/hostname\""]
    if slim:
        excludes = ["path-exclude=/usr/share/doc/*", "path-include=/usr/share/doc/*/copyright",
                    "path-exclude=/usr/share/man/*", "path-exclude=/usr/share/info/*",
                    "path-exclude=/usr/share/locale/*",
                    "path-include=/usr/share/locale/locale.alias"]
        options += [f"--dpkgopt={exclude}" for exclude in excludes]
        # Debian's slim image keeps excluding them for later installs.
        options.append("--customize-hook=printf '%s\\n' " + " ".join(excludes) +
                       " >\"$1/etc/dpkg/dpkg.cfg.d/docker\"")
    tar = tmp_path / f"{name.replace(':', '_')}.tar"
    run(["mmdebstrap", *options, "bookworm", str(tar), "/etc/apt/sources.list.d/debian.sources"],
        timeout=1200)
    run(["podman", "import", str(tar), f"docker.io/library/{name}"])


@pytest.mark.skipif(os.environ.get("PHAROS_IMAGES_DOCKERFILE") != "1",
                    reason="PHAROS_IMAGES_DOCKERFILE=1 builds docker/Dockerfile (about 20 minutes)")
def test_dockerfile_builds_the_same_images(podman_images, tmp_path):
    make_base(tmp_path, "debian:bookworm", slim=False)
    make_base(tmp_path, "debian:bookworm-slim", slim=True)
    created = image_config("pharos")["config"]["Labels"]["org.opencontainers.image.created"]
    revision = image_config("pharos")["config"]["Labels"]["org.opencontainers.image.revision"]
    probe = ("grep '^pharos:' /etc/passwd /etc/group; "
             "stat -c '%n %u:%g %a' /var/lib/pharos /etc/pharos /etc/pharos/monitors.d "
             "/usr/local/bin/*; dpkg-query -W -f='${Package}\\n' | sort; "
             "ls /usr/share/man 2>/dev/null | wc -l; "
             "[ $(du -sxm /var/cache | cut -f1) -lt 5 ] && echo 'no package cache'")
    for name, (target, binary, *_rest) in IMAGES.items():
        tag = f"localhost/dockerfile/{target}:test"
        run(["buildah", "bud", "--pull=never", "--layers", "--isolation=chroot", "--network=host",
             "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
             "--ignorefile", "docker/Dockerfile.dockerignore", "-f", "docker/Dockerfile",
             "--target", target, "--build-arg", f"REVISION={revision}",
             "--build-arg", f"CREATED={created}", "-t", tag, "."], cwd=ROOT, timeout=3600)
        ours = json.loads(run(["skopeo", "inspect", "--config",
                               f"containers-storage:{podman_images[name]}"]).stdout)["config"]
        theirs = json.loads(run(["skopeo", "inspect", "--config",
                                 f"containers-storage:{tag}"]).stdout)["config"]
        theirs["Labels"].pop("io.buildah.version", None)
        assert theirs == ours, name
        inside = [[*PODMAN_RUN, "--network=none", "--user", "0", "--entrypoint", "/bin/sh", image,
                   "-c", probe]
                  for image in (podman_images[name], tag)]
        assert run(inside[1]).stdout == run(inside[0]).stdout, name
        version = run([*PODMAN_RUN, "--network=none", tag, "--version"]).stdout.strip()
        assert version == f"{binary} {VERSION}"
