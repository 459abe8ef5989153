"""Checks for secret-from-file-env: Secret from a literal and a file, read by one
container as an environment variable and by the other as one selected file."""

import base64

import pytest

from grader.checks import (command_line, mounted, must_container, must_get, same_command, same_image,
                           show)


def client_conf(params) -> bytes:
    """What setup wrote to /opt/answers/client.conf (rebuilt: the candidate may edit the file)."""
    return (f"endpoint = https://{params['secret']}.payments.internal:8443\n"
            "timeout_seconds = 15\nretries = 3\n").encode()


def _pod(k8s, params):
    return must_get(k8s.core.read_namespaced_pod, "gateway", params["namespace"])


def _decoded(value):
    try:
        return base64.b64decode(value or "", validate=True)
    except ValueError:
        return None


@pytest.mark.points(2)
def test_secret_entries(k8s, params):
    """Secret holds exactly api-token (the given value) and client.conf (the file's bytes)"""
    ns, name = params["namespace"], params["secret"]
    sec = must_get(k8s.core.read_namespaced_secret, name, ns)
    assert sec.type == "Opaque", f"Secret {ns}/{name} has type {show(sec.type)}; expected Opaque (generic)"
    data = sec.data or {}
    assert sorted(data) == ["api-token", "client.conf"], (
        f"Secret {ns}/{name} has keys {show(sorted(data))}; expected exactly ['api-token', 'client.conf']")
    token = _decoded(data["api-token"])
    assert token == params["token"].encode(), (
        f"Secret {ns}/{name} has api-token {show(token)}; expected {params['token']}")
    conf, want = _decoded(data["client.conf"]), client_conf(params)
    assert conf == want, (f"Secret {ns}/{name} has client.conf {show(conf)} ({len(conf or b'')} bytes); "
                          f"expected the content of /opt/answers/client.conf ({len(want)} bytes), unchanged")


def test_pod_running(k8s, params):
    """Pod gateway runs containers app and agent, busybox:1.36 with sleep 3600, and is Running"""
    pod = _pod(k8s, params)
    for name in ("app", "agent"):
        c = must_container(pod, name)
        assert same_image(c.image, "busybox:1.36"), (
            f"container {name} uses image {show(c.image)}; expected busybox:1.36")
        ran = show(command_line(c)) if command_line(c) else "the image's default command"
        assert same_command(c, "sleep 3600"), f"container {name} runs {ran}; expected sleep 3600"
    phase = pod.status.phase if pod.status else None
    assert phase == "Running", f"Pod {params['namespace']}/gateway is {show(phase)}; expected Running"


@pytest.mark.points(2)
def test_app_env_from_secret(k8s, params):
    """Container app reads API_TOKEN from the Secret's entry api-token"""
    c = must_container(_pod(k8s, params), "app")
    env = [e for e in c.env or [] if e.name == "API_TOKEN"]
    assert env, (f"container app has env {show([e.name for e in c.env or []]) if c.env else 'none'}; "
                 "expected API_TOKEN")
    e = env[-1]
    ref = e.value_from.secret_key_ref if e.value_from else None
    assert ref is not None, (f"API_TOKEN of container app is {'a literal value' if e.value else 'not from a Secret'}; "
                             f"expected valueFrom.secretKeyRef to {params['secret']}")
    found = (ref.name, ref.key)
    assert found == (params["secret"], "api-token"), (
        f"API_TOKEN of container app refers to Secret {show(ref.name)} key {show(ref.key)}; "
        f"expected Secret {params['secret']} key api-token")


def _files(vol, secret):
    """{file path: mode} that a secret (or projected) volume shows of Secret ``secret``,
    or None when it is not such a volume. A key list of None means every key."""
    if vol is None:
        return None
    sources = []
    if vol.secret is not None and vol.secret.secret_name == secret:
        sources.append((vol.secret.items, vol.secret.default_mode))
    elif vol.projected is not None:
        for s in vol.projected.sources or []:
            if s.secret is not None and s.secret.name == secret:
                sources.append((s.secret.items, vol.projected.default_mode))
    if not sources:
        return None
    files = {}
    for items, default in sources:
        default = 0o644 if default is None else default
        if items is None:  # every key, named after itself
            for key in ("api-token", "client.conf"):
                files[key] = (key, default)
        else:
            for it in items:
                files[it.path] = (it.key, default if it.mode is None else it.mode)
    return files


@pytest.mark.points(2)
def test_agent_sees_only_client_conf(k8s, params):
    """Container agent sees the Secret at the path, only client.conf, with the file mode"""
    pod = _pod(k8s, params)
    c = must_container(pod, "agent")
    path = params["mountpath"]
    mount, vol = mounted(pod, c, path)
    assert mount is not None, f"container agent mounts nothing at {path}; expected the Secret {params['secret']}"
    files = _files(vol, params["secret"])
    assert files is not None, (f"container agent mounts volume {show(mount.name)} at {path}, which is not "
                               f"the Secret {params['secret']}; expected a secret volume of it")
    assert not mount.sub_path, f"container agent mounts only {show(mount.sub_path)} of the volume; expected the volume at {path}"
    shown = show({p: k for p, (k, _) in files.items()})
    assert list(files) == ["client.conf"] and files["client.conf"][0] == "client.conf", (
        f"the volume at {path} shows files {shown} (file: key); expected only client.conf from key client.conf")
    mode, want = files["client.conf"][1], int(params["mode"], 8)
    assert mode == want, (f"{path}/client.conf has mode {oct(mode).replace('0o', '0') if isinstance(mode, int) else show(mode)}"
                          f" (decimal {mode}); expected {params['mode']} (decimal {want})")


def test_token_not_copied(k8s, params):
    """No container holds the token in its spec, and agent gets no part of it"""
    pod = _pod(k8s, params)
    text = str(pod.spec.to_dict())
    assert params["token"] not in text, "the Pod's spec holds the token itself; expected only references to the Secret"
    agent = must_container(pod, "agent")
    refs = [e.name for e in agent.env or [] if e.value_from and e.value_from.secret_key_ref] + \
           [f.secret_ref.name for f in agent.env_from or [] if f.secret_ref]
    assert not refs, f"container agent reads the Secret into its environment ({show(refs)}); expected only the file"
    vols = {v.name: v for v in pod.spec.volumes or []}
    for m in agent.volume_mounts or []:
        files = _files(vols.get(m.name), params["secret"]) or {}
        leaks = [p for p, (k, _) in files.items() if k == "api-token"]
        assert not leaks, (f"container agent sees the key api-token as {show(leaks)} under {show(m.mount_path)}; "
                           "expected the token kept out of agent")
