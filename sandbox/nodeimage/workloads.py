"""The workload images: stand-ins for the images tasks name and candidates
reach for (busybox, nginx, alpine, httpd, redis), built here, since nothing
can be pulled.

A stand-in must behave like the image it stands in for wherever a task or a
candidate can tell: its entrypoint and default command (a candidate who
writes out ``/docker-entrypoint.sh nginx -g 'daemon off;'`` starts nginx),
its user, working directory, ports, stop signal, and the files people use
(``/usr/share/nginx/html``, ``/etc/nginx/conf.d``, ``/usr/local/apache2``,
``/data``). Each is a few Debian programs (from the node's rootfs, or
packages installed in the build stage) with their libraries, the busybox
that every one of them carries, the files under ``images/<role>/rootfs/``,
and the Dockerfile lines below, which follow the real images' Dockerfiles.
``tests/nodes/test_workload_images.py`` compares each built image's
configuration with the real image's documented one, and runs it.

Each stand-in is also tagged with the other names a candidate types for it
(``busybox:1.36``, ``nginx:latest``, …). A Pod gets a ``:latest`` (or
untagged) image only with ``imagePullPolicy: IfNotPresent``: the default
for those is ``Always``, and a pull fails here as in a cluster without a
registry (``ErrImagePull``), as does any other image.

Differences that remain, on purpose: the programs are Debian's builds
(nginx 1.22.1 as in ``nginx:1.22``; Apache 2.4 and Redis 7.0 of bookworm);
busybox is 1.37 under every busybox tag; alpine has no ``apk`` (there is
nothing to install from).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
IMAGES = HERE / "images"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class StandIn:
    role: str                      # "nginx"
    names: tuple[str, ...]         # the first is what tasks name; the rest are tags of it
    programs: str                  # paths collected from the build stage, with their libraries
    config: str                    # the Dockerfile's image configuration lines
    packages: tuple[str, ...] = () # Debian packages the build stage installs first
    prepare: str = ""              # shell run in the build stage on /out, after collecting

    @property
    def image(self) -> str:
        return self.names[0]

    @property
    def rootfs(self) -> Path | None:
        """``images/<role>/rootfs``, copied over the collected files, if it exists."""
        d = IMAGES / self.role / "rootfs"
        return d if d.is_dir() else None


# nginx, httpd and redis are Debian images: their /bin/sh is dash and bash is
# there (`kubectl exec -it web -- bash`); busybox's shell would also run its
# own httpd or setpriv before the real programs of those names. libgcc_s is
# loaded by glibc when a thread exits.
DEBIAN_SHELLS = ("/usr/bin/dash /usr/bin/bash /usr/lib/x86_64-linux-gnu/libgcc_s.so.1 "
                 "/etc/os-release /usr/lib/os-release /etc/debian_version")
DEBIAN_SH = "ln -sf /usr/bin/dash /out/bin/sh && ln -sf /usr/bin/bash /out/bin/bash"


def _lib(name: str, *tags: str) -> tuple[str, ...]:
    return tuple(f"docker.io/library/{name}:{t}" for t in tags)


STAND_INS: tuple[StandIn, ...] = (
    StandIn("busybox", _lib("busybox", "1.35", "1.36", "1.37", "latest"),
            "/usr/bin/busybox",
            f'ENV PATH={PATH}\nCMD ["sh"]\n'),
    StandIn("nginx", _lib("nginx", "1.22", "latest"),
            f"/usr/sbin/nginx {DEBIAN_SHELLS} /usr/bin/busybox /etc/nginx/mime.types /var/lib/nginx",
            f"ENV PATH={PATH}\nENV NGINX_VERSION=1.22.1\n"
            'ENTRYPOINT ["/docker-entrypoint.sh"]\nEXPOSE 80\nSTOPSIGNAL SIGQUIT\n'
            'CMD ["nginx", "-g", "daemon off;"]\n',
            prepare=f"{DEBIAN_SH} && sed -i '/^[^:]*:x:101:/d' /out/etc/passwd /out/etc/group"
                    " && echo 'nginx:x:101:101:nginx user:/nonexistent:/bin/false' >> /out/etc/passwd"
                    " && echo 'nginx:x:101:' >> /out/etc/group"
                    " && ln -s /run /out/var/run && mkdir -p /out/var/log/nginx /out/var/cache/nginx /out/docker-entrypoint.d"
                    " && ln -sf /dev/stdout /out/var/log/nginx/access.log"
                    " && ln -sf /dev/stderr /out/var/log/nginx/error.log"),
    StandIn("alpine", _lib("alpine", "3.20", "latest"),
            "/usr/bin/busybox",
            f'ENV PATH={PATH}\nCMD ["/bin/sh"]\n'),
    StandIn("httpd", _lib("httpd", "2.4", "latest"),
            f"/usr/sbin/apache2 {DEBIAN_SHELLS} /usr/bin/busybox /etc/mime.types "
            + " ".join(f"/usr/lib/apache2/modules/mod_{m}.so" for m in (
                "mpm_event", "authn_core", "authz_core", "authz_host", "mime", "env",
                "headers", "setenvif", "status", "dir", "alias", "rewrite")),
            "ENV HTTPD_PREFIX=/usr/local/apache2\n"
            f"ENV PATH=/usr/local/apache2/bin:{PATH}\n"
            "WORKDIR /usr/local/apache2\nSTOPSIGNAL SIGWINCH\nEXPOSE 80\n"
            'CMD ["httpd-foreground"]\n',
            packages=("apache2-bin", "media-types"),
            prepare=f"{DEBIAN_SH} && mkdir -p /out/usr/local/apache2/logs"
                    " && ln -s /usr/lib/apache2/modules /out/usr/local/apache2/modules"
                    " && mkdir -p /out/usr/local/apache2/conf"
                    " && cp /etc/mime.types /out/usr/local/apache2/conf/mime.types"),
    StandIn("redis", _lib("redis", "7", "latest"),
            f"/usr/bin/redis-check-rdb /usr/bin/redis-cli /usr/bin/setpriv {DEBIAN_SHELLS} "
            "/usr/bin/busybox",
            f"ENV PATH={PATH}\nENV REDIS_VERSION=7.0.15\n"
            'VOLUME /data\nWORKDIR /data\nENTRYPOINT ["docker-entrypoint.sh"]\nEXPOSE 6379\n'
            'CMD ["redis-server"]\n',
            packages=("redis-server",),
            prepare=f"{DEBIAN_SH} && sed -i '/^redis:/d; /^[^:]*:x:999:/d' /out/etc/passwd /out/etc/group"
                    " && echo 'redis:x:999:999::/home/redis:/bin/sh' >> /out/etc/passwd"
                    " && echo 'redis:x:999:' >> /out/etc/group"
                    " && mkdir -p /out/data /out/usr/local/bin && chown 999:999 /out/data"
                    " && mv /out/usr/bin/redis-check-rdb /out/usr/local/bin/redis-server"
                    " && mv /out/usr/bin/redis-cli /out/usr/local/bin/redis-cli"
                    " && for p in redis-check-aof redis-check-rdb redis-sentinel; do"
                    " ln -s redis-server /out/usr/local/bin/$p; done"),
)

# what tasks may name, by role (the first name of each stand-in)
WORKLOAD_IMAGES: dict[str, str] = {s.role: s.image for s in STAND_INS}
# every name a workload image answers to, tags included
WORKLOAD_NAMES: tuple[str, ...] = tuple(n for s in STAND_INS for n in s.names)


def dockerfile(standin: StandIn, rootfs_tag: str) -> str:
    """The stand-in's Dockerfile: a build stage from the node's rootfs (with
    its packages) that collects the programs, then an image of only those."""
    install = ""
    if standin.packages:
        install = ("RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -q -y"
                   f" --no-install-recommends {' '.join(standin.packages)}\n")
    prepare = f"RUN {standin.prepare}\n" if standin.prepare else ""
    files = "COPY rootfs/ /\n" if standin.rootfs else ""
    return (f"FROM {rootfs_tag} AS base\n{install}COPY collect /collect\n"
            "COPY busybox /usr/bin/busybox\n"
            f"RUN sh /collect /out {standin.programs}\n{prepare}"
            f"FROM scratch\nCOPY --from=base /out/ /\n{files}{standin.config}")
