"""Checks for image-tag-rollout: /opt/answers/greeter/Dockerfile read as
Docker's parser reads it (grader.dockerfile: a two-stage build whose final
stage ships only the binary), and the Deployment rolled to the new image with
the change cause recorded on the new revision, the old revision kept.
"""

import json
import re

import pytest

from grader.checks import (must_be_original, must_be_ready, must_container, must_get, replica_sets_of,
                           same_image, show)
from grader.dockerfile import copy_args, env_pairs, exec_form, parse, stages

FILE = "greeter/Dockerfile"
WHERE = f"/opt/answers/{FILE}"
RUNTIME = "gcr.io/distroless/static-debian12"
BINARY = "/usr/local/bin/greeter"
USERS = {"65532", "65532:65532", "nonroot", "nonroot:nonroot"}
# what a distroless final stage can hold: no RUN (no shell there)
FINAL_OK = {"FROM", "COPY", "USER", "EXPOSE", "ENTRYPOINT", "CMD", "ENV", "LABEL", "WORKDIR", "ARG"}


def _stages(answers) -> list[dict]:
    f = answers / FILE
    assert f.exists(), f"{WHERE} does not exist; expected the Dockerfile there"
    found = stages(parse(f.read_text()))
    assert len(found) == 2, (f"{WHERE} has {len(found)} stage(s) {show([s['image'] for s in found])}; "
                             "expected two: build, then the final stage")
    return found


@pytest.mark.points(2)
def test_build_stage(answers, params):
    """The first stage, named build, compiles a static binary to /out/greeter with the Go image"""
    build = _stages(answers)[0]
    image = f"golang:{params['go']}"
    assert build["image"] == image and build["name"] == "build", (
        f"{WHERE} starts with FROM {show(build['image'])} named {show(build['name'])}; "
        f"expected FROM {image} AS build")
    env = {}
    runs = []
    for k, a in build["steps"]:
        if k in ("ENV", "ARG"):
            env.update(env_pairs(a.replace(" ", "=", 1) if k == "ARG" and "=" not in a else a))
        if k == "RUN":
            runs.append(exec_form(a) and " ".join(exec_form(a)) or a)
    builds = [r for r in runs if "go build" in r]
    assert builds and any(re.search(r"-o[ =]/out/greeter(\s|$)", r) for r in builds), (
        f"{WHERE} build stage runs {show(runs)}; expected go build -o /out/greeter")
    static = env.get("CGO_ENABLED") == "0" or any("CGO_ENABLED=0" in r for r in builds)
    assert static, f"{WHERE} build stage builds without CGO_ENABLED=0; expected a static binary"


@pytest.mark.points(2)
def test_final_stage_ships_only_the_binary(answers):
    """The final stage is distroless, copies only the binary from build, and runs as uid 65532"""
    build, final = _stages(answers)
    assert final["image"] == RUNTIME, f"{WHERE} final stage is FROM {show(final['image'])}; expected {RUNTIME}"
    other = sorted({k for k, _ in final["steps"]} - FINAL_OK)
    assert not other, f"{WHERE} final stage has {show(other)}; expected no such step (distroless has no shell)"
    copies = [copy_args(a) for k, a in final["steps"] if k in ("COPY", "ADD")]
    ok = [(fl, p) for fl, p in copies if fl.get("from") in ("build", "0") and len(p) == 2
          and p[0] == "/out/greeter" and (p[1] == BINARY or p[1] == "/usr/local/bin/")]
    assert len(copies) == 1 and ok, (
        f"{WHERE} final stage copies {show([' '.join(p) for _, p in copies])}; expected only "
        f"/out/greeter from stage build to {BINARY}")
    users = [a for k, a in final["steps"] if k == "USER"]
    assert users and users[-1] in USERS, f"{WHERE} final stage runs as USER {show(users[-1] if users else None)}; expected 65532"


def test_entrypoint_and_arguments(answers, params):
    """The final stage exposes the port, with exec-form ENTRYPOINT and default arguments"""
    _, final = _stages(answers)
    port = str(params["port"])
    exposed = [w.split("/")[0] for k, a in final["steps"] if k == "EXPOSE" for w in a.split()]
    assert exposed == [port], f"{WHERE} exposes {show(exposed)}; expected {port}"
    entry = [a for k, a in final["steps"] if k == "ENTRYPOINT"]
    cmd = [a for k, a in final["steps"] if k == "CMD"]
    assert entry and exec_form(entry[-1]) == [BINARY], (
        f"{WHERE} has ENTRYPOINT {show(entry[-1] if entry else None)}; expected the exec form [\"{BINARY}\"]")
    want = ["--listen", f":{port}"]
    assert cmd and exec_form(cmd[-1]) == want, (
        f"{WHERE} has CMD {show(cmd[-1] if cmd else None)}; expected the exec form {json.dumps(want)}")


@pytest.mark.points(2)
def test_rolled_out_with_cause(k8s, params):
    """Deployment greeter, the original, runs the new image; the new revision records the cause"""
    ns, image, cause = params["namespace"], f"registry.internal:5000/greeter:{params['tag']}", params["cause"]
    dep = must_get(k8s.apps.read_namespaced_deployment, "greeter", ns, expected="it to still exist")
    must_be_original(k8s, dep, f"greeter-{ns}-original")
    c = must_container(dep, "greeter")
    assert same_image(c.image, image), f"Deployment {ns}/greeter runs image {show(c.image)}; expected {image}"
    must_be_ready(dep, replicas=3)
    found = (dep.metadata.annotations or {}).get("kubernetes.io/change-cause")
    assert found == cause, (f"Deployment {ns}/greeter has change-cause {show(found)}; expected {show(cause)}")
    revisions = replica_sets_of(k8s, dep)
    new = [rs for rs in revisions if any(same_image(x.image, image) for x in rs.spec.template.spec.containers or [])]
    old = [rs for rs in revisions if rs not in new]
    recorded = [(rs.metadata.annotations or {}).get("kubernetes.io/change-cause") for rs in new]
    assert cause in recorded, (f"Deployment {ns}/greeter's new revision records change-cause {show(recorded)}; "
                               f"expected {show(cause)}")
    assert old, f"Deployment {ns}/greeter has no earlier revision; expected the rollout history to keep it"
