"""The workload images are stand-ins that behave like the images they stand
in for (sandbox/nodeimage/workloads.py): each built image's configuration is
compared with the real image's documented one, and each is run the way
tasks and candidates run it.

The references are the official images' Dockerfiles (docker-library on
GitHub, linked per image) as ``docker image inspect`` shows them; they are
written out here, not read from workloads.py, so the two can disagree.
"""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from sandbox.nodeimage import NodeImage
from sandbox.nodeimage.workloads import STAND_INS, WORKLOAD_NAMES

from ..waiting import wait_for

pytestmark = pytest.mark.nodes

PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# image -> the fields of its `docker image inspect` Config that a Pod can tell
DOCUMENTED = {
    # https://github.com/docker-library/busybox (glibc variant): CMD ["sh"]
    "busybox": {"Entrypoint": None, "Cmd": ["sh"], "User": "", "WorkingDir": "",
                "ExposedPorts": None, "StopSignal": None, "Env": [PATH]},
    # https://github.com/nginxinc/docker-nginx (mainline/debian of 1.22)
    "nginx": {"Entrypoint": ["/docker-entrypoint.sh"], "Cmd": ["nginx", "-g", "daemon off;"],
              "User": "", "WorkingDir": "", "ExposedPorts": {"80/tcp": {}},
              "StopSignal": "SIGQUIT", "Env": [PATH, "NGINX_VERSION=1.22.1"]},
    # https://github.com/alpinelinux/docker-alpine: CMD ["/bin/sh"]
    "alpine": {"Entrypoint": None, "Cmd": ["/bin/sh"], "User": "", "WorkingDir": "",
               "ExposedPorts": None, "StopSignal": None, "Env": [PATH]},
    # https://github.com/docker-library/httpd (2.4/Dockerfile)
    "httpd": {"Entrypoint": None, "Cmd": ["httpd-foreground"], "User": "",
              "WorkingDir": "/usr/local/apache2", "ExposedPorts": {"80/tcp": {}},
              "StopSignal": "SIGWINCH",
              "Env": ["HTTPD_PREFIX=/usr/local/apache2", "PATH=/usr/local/apache2/bin:"
                      + PATH.removeprefix("PATH=")]},
    # https://github.com/docker-library/redis (7.x/debian/Dockerfile)
    "redis": {"Entrypoint": ["docker-entrypoint.sh"], "Cmd": ["redis-server"], "User": "",
              "WorkingDir": "/data", "ExposedPorts": {"6379/tcp": {}}, "StopSignal": None,
              "Volumes": {"/data": {}}, "Env": [PATH, "REDIS_VERSION=7.0.15"]},
}


@pytest.fixture(scope="module", autouse=True)
def built():
    image = NodeImage()
    assert image.exists(), (f"node image {image.tag} is not built; "
                            "run `proctor toolchain build --with-kind`")


def _inspect(name: str) -> dict:
    res = subprocess.run(["docker", "image", "inspect", name], capture_output=True, text=True)
    assert res.returncode == 0, f"{name} is not in Docker: {res.stderr.strip()}"
    return json.loads(res.stdout)[0]


def test_every_stand_in_is_documented_here():
    assert {s.role for s in STAND_INS} == set(DOCUMENTED)


@pytest.mark.parametrize("name", WORKLOAD_NAMES)
def test_config_is_the_real_images(name):
    role = next(s.role for s in STAND_INS if name in s.names)
    config = _inspect(name)["Config"]
    for key, want in DOCUMENTED[role].items():
        got = config.get(key) or None
        if key == "Env":  # the real image's variables, in any order (it may have more)
            env = dict(v.split("=", 1) for v in got or [])
            for var in want:
                k, v = var.split("=", 1)
                assert env.get(k) == v, f"{name}: {k}={env.get(k)!r}; the real image has {v!r}"
        else:
            assert got == (want or None), f"{name}: {key} {got!r}; the real image has {want!r}"


@pytest.mark.parametrize("role", [s.role for s in STAND_INS])
def test_every_tag_is_one_image(role):
    s = next(s for s in STAND_INS if s.role == role)
    ids = {_inspect(n)["Id"] for n in s.names}
    assert len(ids) == 1, f"{role}: {s.names} are {len(ids)} different images"


class Containers:
    """Containers started by one test, removed after it."""

    def __init__(self):
        self.names: list[str] = []

    def run(self, image: str, *args: str, entrypoint: str | None = None) -> str:
        name = f"proctor-test-img-{uuid.uuid4().hex[:8]}"
        cmd = ["docker", "run", "-d", "--name", name]
        if entrypoint is not None:
            cmd += ["--entrypoint", entrypoint]
        subprocess.run([*cmd, image, *args], check=True, capture_output=True)
        self.names.append(name)
        return name

    def exec(self, name: str, *cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", "exec", name, *cmd], capture_output=True, text=True)

    def logs(self, name: str) -> str:
        res = subprocess.run(["docker", "logs", name], capture_output=True, text=True)
        return res.stdout + res.stderr

    def ip(self, name: str) -> str:
        return subprocess.run(["docker", "inspect", "-f", "{{.NetworkSettings.IPAddress}}", name],
                              capture_output=True, text=True, check=True).stdout.strip()

    def serves(self, name: str, text: str, url: str = "http://localhost/") -> str:
        return wait_for(f"{name} serving {text!r}",
                        lambda: text in (out := self.exec(name, "wget", "-qO-", url).stdout)
                        and out)


@pytest.fixture
def containers():
    c = Containers()
    yield c
    if c.names:
        subprocess.run(["docker", "rm", "-f", *c.names], capture_output=True)


def test_nginx_serves_its_welcome_page_and_logs_to_stdout(containers):
    web = containers.run("nginx:1.22")
    containers.serves(web, "Welcome to nginx!")
    wait_for("the request in docker logs", lambda: '"GET / HTTP/1.1" 200' in containers.logs(web))
    workers = containers.exec(web, "ps", "-o", "user,args").stdout
    assert "nginx    nginx: worker process" in workers, workers
    conf = containers.exec(web, "nginx", "-T").stdout
    assert "include /etc/nginx/conf.d/*.conf;" in conf and "server_name  localhost;" in conf


def test_nginx_started_by_its_entrypoint_written_out(containers):
    """cka/crashloop-command: a candidate writes the image's entrypoint and
    arguments into the Pod; nginx:1.22 then starts as it does by default."""
    web = containers.run("nginx:1.22", "nginx", "-g", "daemon off;",
                         entrypoint="/docker-entrypoint.sh")
    containers.serves(web, "Welcome to nginx!")
    assert "Configuration complete" in containers.logs(web) or \
        "skipping configuration" in containers.logs(web)


def test_httpd_serves_it_works_from_its_prefix(containers):
    web = containers.run("httpd:2.4")
    containers.serves(web, "<h1>It works!</h1>")
    wait_for("the request in docker logs", lambda: '"GET / HTTP/1.1" 200' in containers.logs(web))
    assert containers.exec(web, "ls", "/usr/local/apache2/htdocs/index.html").returncode == 0
    assert "Apache/2.4" in containers.exec(web, "httpd", "-v").stdout


def test_redis_answers_another_container_as_the_real_image_does(containers):
    db = containers.run("redis:7")
    wait_for("redis ready", lambda: "PONG" in containers.exec(db, "redis-cli", "ping").stdout)
    ip = containers.ip(db)
    client = containers.run("redis:7", "sleep", "300")
    res = containers.exec(client, "redis-cli", "-h", ip, "set", "k", "v")
    assert res.stdout.strip() == "OK", res.stdout + res.stderr   # protected mode is off
    assert containers.exec(db, "ps", "-o", "user,args").stdout.split("\n")[1].startswith("redis")


@pytest.mark.parametrize("image,shell,distribution", [
    ("nginx:1.22", "bash", "debian"), ("httpd:2.4", "bash", "debian"),
    ("redis:7", "bash", "debian"), ("busybox:1.35", "sh", None), ("busybox", "sh", None),
    ("alpine:3.20", "sh", "alpine")])
def test_the_shell_a_candidate_execs_into(containers, image, shell, distribution):
    """`kubectl exec -it … -- bash` (or sh), and the tools people type there."""
    c = containers.run(image, "sleep", "300", entrypoint="")
    res = containers.exec(c, shell, "-c", "wget --help 2>&1 | head -1; "
                                          "[ -e /etc/os-release ] && . /etc/os-release; echo ID=$ID")
    assert res.returncode == 0, res.stderr
    assert "BusyBox" in res.stdout, res.stdout
    assert f"ID={distribution or ''}\n" in res.stdout, res.stdout
    if distribution == "alpine":
        assert containers.exec(c, "cat", "/etc/alpine-release").stdout.startswith("3.20")
