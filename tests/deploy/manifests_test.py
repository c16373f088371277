#!/usr/bin/python3
# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
"""Checks the deployment manifests against the real binaries.

  manifests_test.py static ROOT SHMARRAYD
      Parses every YAML file of deploy/kubernetes/ and docker/compose.yaml.
      Runs `shmarrayd ARGS --check-config` with the exact arguments each
      manifest passes (so every flag and value must exist and validate), and
      checks that the pieces agree with each other: ports, probes, Services,
      volumes, the token Secret, users and groups, and the memory limit
      against --max-bytes and --max-arrays.

  manifests_test.py pods ROOT SHMARRAYD SHMARRAY SHMARRAY_DEMO
      Runs the DaemonSet and the example consumer Pod as a node would, in a
      private mount and network namespace (needs root): the init container's
      command, shmarrayd with the DaemonSet's arguments as uid/gid 10001, the
      consumer's script as its uid with supplemental group 10001, with the
      hostPath directories, the token Secret (fsGroup, defaultMode) and the
      Service's DNS name in place, and the three binaries on PATH. The
      consumer must exit 0 and print the demo's figures.

Exit codes: 0 pass, 1 fail, 77 skipped (no python3-yaml; pods: not root, no
unshare/setpriv).
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    print("SKIP: python3-yaml is not installed")
    sys.exit(77)

FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL: " + message)
    return condition


def load_yaml_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


QUANTITY = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
            "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "": 1}


def quantity_bytes(text):
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti|k|M|G|T|)", str(text))
    if not m:
        raise ValueError("not a memory quantity: %r" % text)
    return int(m.group(1)) * QUANTITY[m.group(2)]


def flag_value(args, name):
    """The value of --name in args (either `--name=v` or `--name v`), or None."""
    for i, a in enumerate(args):
        if a == "--" + name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--" + name + "="):
            return a.split("=", 1)[1]
    return None


def check_config(shmarrayd, args, where):
    """Runs shmarrayd ARGS --check-config; returns {key: value} of its report."""
    proc = subprocess.run([shmarrayd] + list(args) + ["--check-config"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=30, check=False)
    if not check(proc.returncode == 0,
                 "%s: shmarrayd %s --check-config exited %d:\n%s"
                 % (where, " ".join(args), proc.returncode, proc.stdout)):
        return {}
    check("configuration OK" in proc.stdout, where + ": no 'configuration OK'")
    config = {}
    for line in proc.stdout.splitlines()[1:]:
        key, _, value = line.strip().partition(": ")
        config[key.strip().rstrip(":")] = value.strip()
    print("ok: %s: shmarrayd --check-config accepts %s" % (where, " ".join(args)))
    return config


def pod_specs(docs):
    """(where, pod spec, pod labels) of every workload in docs."""
    for d in docs:
        kind = d.get("kind")
        name = "%s/%s" % (kind, d.get("metadata", {}).get("name"))
        if kind == "Pod":
            yield name, d["spec"], d["metadata"].get("labels", {})
        elif kind in ("DaemonSet", "Deployment", "StatefulSet", "Job"):
            template = d["spec"]["template"]
            yield name, template["spec"], template["metadata"].get("labels", {})


def runs_shmarrayd(container):
    command = container.get("command")
    return command is None or os.path.basename(command[0]) == "shmarrayd"


def mount_for(container, volumes, path):
    """(volume, mount) of the mount that holds `path` in the container."""
    best = None
    for m in container.get("volumeMounts", []):
        mp = m["mountPath"].rstrip("/")
        if path == mp or path.startswith(mp + "/"):
            if best is None or len(mp) > len(best[1]["mountPath"]):
                best = (volumes.get(m["name"]), m)
    return best if best else (None, None)


def static_checks(root, shmarrayd):
    kdir = os.path.join(root, "deploy", "kubernetes")
    files = sorted(f for f in os.listdir(kdir) if f.endswith(".yaml"))
    docs_by_file = {f: load_yaml_docs(os.path.join(kdir, f)) for f in files}

    # --- every document is a well-formed object in the shmarray namespace ------
    namespaced = {"DaemonSet", "Service", "Pod", "Secret", "Deployment", "ConfigMap"}
    known = namespaced | {"Namespace", "Kustomization"}
    manifests = []
    for f, docs in docs_by_file.items():
        check(docs, f + ": no YAML document")
        for d in docs:
            check(isinstance(d, dict) and "apiVersion" in d and "kind" in d,
                  f + ": a document without apiVersion/kind")
            kind = d.get("kind")
            check(kind in known, "%s: unexpected kind %s" % (f, kind))
            if kind == "Kustomization":
                continue
            check(d.get("metadata", {}).get("name"), f + ": metadata.name missing")
            if kind in namespaced:
                check(d["metadata"].get("namespace") == "shmarray",
                      "%s: %s is not in namespace shmarray" % (f, d["metadata"].get("name")))
            manifests.append(d)
    print("ok: %d manifests parsed from %s" % (len(manifests), ", ".join(files)))

    # --- kustomization lists the deployment (the example consumer is apart) ----
    kust = docs_by_file.get("kustomization.yaml", [{}])[0]
    resources = kust.get("resources", [])
    for r in resources:
        check(os.path.exists(os.path.join(kdir, r)), "kustomization: missing " + r)
    for f in files:
        if f not in ("kustomization.yaml", "consumer.yaml"):
            check(f in resources, "kustomization does not list " + f)
    image_names = {i["name"] for i in kust.get("images", [])}

    daemonsets = [d for d in manifests if d["kind"] == "DaemonSet"]
    services = [d for d in manifests if d["kind"] == "Service"]
    pods = [d for d in manifests if d["kind"] == "Pod"]
    if not check(len(daemonsets) == 1, "exactly one DaemonSet expected"):
        return
    ds = daemonsets[0]

    # --- every container: image, volumes, secrets ---------------------------------
    for where, spec, _ in pod_specs(manifests):
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c in spec.get("initContainers", []) + spec["containers"]:
            image = c["image"].split(":")[0]
            check(image in image_names, "%s: image %s is not in kustomization images"
                  % (where, c["image"]))
            for m in c.get("volumeMounts", []):
                check(m["name"] in volumes, "%s: mount of undefined volume %s" % (where, m["name"]))
        for v in volumes.values():
            if "secret" in v:
                check(v["secret"]["secretName"] == "shmarray-token",
                      "%s: secret %s is not shmarray-token" % (where, v["secret"]["secretName"]))

    # --- the DaemonSet's daemon -------------------------------------------------------
    spec = ds["spec"]["template"]["spec"]
    labels = ds["spec"]["template"]["metadata"]["labels"]
    check(all(labels.get(k) == v for k, v in ds["spec"]["selector"]["matchLabels"].items()),
          "DaemonSet selector does not match its pod labels")
    volumes = {v["name"]: v for v in spec["volumes"]}
    daemons = [c for c in spec["containers"] if runs_shmarrayd(c)]
    if not check(len(daemons) == 1, "DaemonSet: exactly one shmarrayd container expected"):
        return
    daemon = daemons[0]
    args = daemon.get("args", [])
    config = check_config(shmarrayd, args, "DaemonSet")
    if not config:
        return

    socket = flag_value(args, "socket")
    check(socket, "DaemonSet: --socket must be explicit (the consumer pods use the path)")
    vol, _ = mount_for(daemon, volumes, socket or "/")
    check(vol and "hostPath" in vol, "DaemonSet: the socket directory is not a hostPath volume")
    shm_vol, _ = mount_for(daemon, volumes, "/dev/shm/x")
    check(shm_vol and "hostPath" in shm_vol and
          shm_vol["hostPath"]["path"].startswith("/dev/shm"),
          "DaemonSet: /dev/shm is not a hostPath on the node's /dev/shm")

    token = flag_value(args, "token-file")
    check(token, "DaemonSet: a TCP listener needs --token-file")
    vol, mount = mount_for(daemon, volumes, token or "/")
    if check(vol and "secret" in vol, "DaemonSet: --token-file is not in a Secret volume"):
        key = os.path.relpath(token, mount["mountPath"])
        items = vol["secret"].get("items")
        check(items is None or any(i["path"] == key for i in items),
              "DaemonSet: the Secret has no item " + key)
        check(key == "token", "DaemonSet: the token key must be 'token' (docs create it so)")

    listen = flag_value(args, "listen")
    check(listen, "DaemonSet: --listen missing")
    port = int(listen.rsplit(":", 1)[1]) if listen else 0
    ports = {p.get("name"): p["containerPort"] for p in daemon.get("ports", [])}
    check(ports.get("grpc") == port, "DaemonSet: containerPort grpc != --listen port")
    for probe in ("readinessProbe", "livenessProbe"):
        p = daemon.get(probe, {})
        check(p.get("grpc", {}).get("port") == port,
              "DaemonSet: %s is not a gRPC health probe on port %d" % (probe, port))

    group = flag_value(args, "group")
    sc = spec.get("securityContext", {})
    check(group is not None and group.isdigit() and int(group) == sc.get("runAsGroup"),
          "DaemonSet: --group must be the numeric runAsGroup")
    check(sc.get("fsGroup") == sc.get("runAsGroup"),
          "DaemonSet: fsGroup must be the daemon's group (token Secret readable)")
    daemon_uid = sc.get("runAsUser")
    check(daemon_uid not in (None, 0), "DaemonSet: the daemon must not run as root")

    # Memory: every array's tmpfs pages are charged to the daemon's cgroup.
    max_bytes = int(config["max-bytes"].split()[0])
    max_arrays = int(config["max-arrays"].split()[0]) or 100000
    check(max_bytes > 0, "DaemonSet: --max-bytes must be set (the memory limit depends on it)")
    res = daemon.get("resources", {})
    limit = quantity_bytes(res.get("limits", {}).get("memory", "0"))
    request = quantity_bytes(res.get("requests", {}).get("memory", "0"))
    needed = max_bytes + 4096 * max_arrays + (128 << 20)
    check(limit >= needed, "DaemonSet: memory limit %d < --max-bytes + headers + 128Mi = %d"
          % (limit, needed))
    check(limit <= needed + (512 << 20),
          "DaemonSet: memory limit %d is far above --max-bytes (%d)" % (limit, max_bytes))
    check(request == limit, "DaemonSet: memory request != limit")
    print("ok: DaemonSet memory limit %d MiB covers --max-bytes %d MiB and %d header pages"
          % (limit >> 20, max_bytes >> 20, max_arrays))

    # --- Services select the daemon and expose its port ---------------------------
    check(services, "no Service")
    for s in services:
        name = s["metadata"]["name"]
        check(all(labels.get(k) == v for k, v in s["spec"]["selector"].items()),
              "Service %s does not select the DaemonSet's pods" % name)
        for p in s["spec"]["ports"]:
            target = p.get("targetPort", p["port"])
            check(ports.get(target, target) == port,
                  "Service %s targets %s, not the daemon's port %d" % (name, target, port))
    print("ok: %d Services expose port %d" % (len(services), port))

    # --- the example consumer shares the node's daemon -----------------------------
    ds_mounts = {m["mountPath"]: volumes[m["name"]] for m in daemon["volumeMounts"]}
    service_names = {"%s.%s.svc:%d" % (s["metadata"]["name"], s["metadata"]["namespace"],
                                       p["port"]) for s in services for p in s["spec"]["ports"]}
    check(pods, "no example consumer Pod")
    for pod in pods:
        where = "Pod/" + pod["metadata"]["name"]
        pspec = pod["spec"]
        psc = pspec.get("securityContext", {})
        pvols = {v["name"]: v for v in pspec.get("volumes", [])}
        check(psc.get("runAsUser") not in (None, 0, daemon_uid),
              where + ": must run as a uid other than root and the daemon's")
        check(int(group) in psc.get("supplementalGroups", []),
              where + ": needs supplemental group " + str(group))
        for c in pspec["containers"]:
            for path in ("/run/shmarray", "/dev/shm"):
                dvol = ds_mounts.get(path)
                m = next((m for m in c.get("volumeMounts", []) if m["mountPath"] == path), None)
                check(m is not None and dvol is not None and
                      pvols[m["name"]].get("hostPath", {}).get("path") ==
                      dvol["hostPath"]["path"],
                      "%s: %s is not the DaemonSet's hostPath" % (where, path))
            script = " ".join(c.get("command", []) + c.get("args", []))
            check(socket in script, where + ": does not use the daemon's socket " + str(socket))
            for target in re.findall(r"--target\s+([A-Za-z0-9.-]+:\d+)", script):
                check(target in service_names, where + ": TCP target %s is no Service" % target)
    print("ok: consumer pods share the DaemonSet's socket and segment directories")

    # --- docker/compose.yaml ------------------------------------------------------------
    compose = load_yaml_docs(os.path.join(root, "docker", "compose.yaml"))[0]
    dsvc = compose["services"]["daemon"]
    cargs = dsvc["command"]
    cconfig = check_config(shmarrayd, cargs, "compose daemon")
    token = flag_value(cargs, "token-file") or ""
    check(token.startswith("/run/secrets/") and
          os.path.basename(token) in compose.get("secrets", {}),
          "compose: --token-file is not a compose secret")
    shm_size = quantity_bytes(str(dsvc["shm_size"]).replace("mb", "Mi").replace("gb", "Gi"))
    if cconfig:
        check(0 < int(cconfig["max-bytes"].split()[0]) < shm_size,
              "compose: --max-bytes must be set and below shm_size")
    listen = flag_value(cargs, "listen") or ":0"
    remote = " ".join(compose["services"]["remote-client"]["command"])
    check("daemon:" + listen.rsplit(":", 1)[1] in remote,
          "compose: the remote client does not use the daemon's port")
    check(compose["services"]["local-client"].get("ipc") == "service:daemon",
          "compose: the local client must share the daemon's IPC namespace")
    check(compose["services"]["remote-client"].get("ipc") == "private",
          "compose: the remote client must have its own IPC namespace")


# --- pods: the DaemonSet and the consumer on a simulated node ---------------------------
def pods_check(root, binaries):
    if os.geteuid() != 0:
        print("SKIP: needs root (mount and network namespaces, setpriv)")
        sys.exit(77)
    for tool in ("unshare", "setpriv", "ip"):
        if subprocess.run(["sh", "-c", "command -v " + tool], stdout=subprocess.DEVNULL,
                          check=False).returncode != 0:
            print("SKIP: no " + tool)
            sys.exit(77)
    kdir = os.path.join(root, "deploy", "kubernetes")
    manifests = []
    for f in sorted(os.listdir(kdir)):
        if f.endswith(".yaml") and f != "kustomization.yaml":
            manifests += load_yaml_docs(os.path.join(kdir, f))
    ds = next(d for d in manifests if d["kind"] == "DaemonSet")
    pod = next(d for d in manifests if d["kind"] == "Pod")
    services = [d for d in manifests if d["kind"] == "Service"]
    spec = ds["spec"]["template"]["spec"]
    sc = spec["securityContext"]
    init = spec["initContainers"][0]
    daemon = next(c for c in spec["containers"] if runs_shmarrayd(c))
    consumer = pod["spec"]["containers"][0]
    psc = pod["spec"]["securityContext"]
    token_vol = next(v for v in spec["volumes"] if "secret" in v)
    token_dir = next(m["mountPath"] for m in daemon["volumeMounts"]
                     if m["name"] == token_vol["name"])
    mode = token_vol["secret"].get("defaultMode", 0o644)
    if not check(token_dir.startswith("/etc/"), "the token Secret must be mounted under /etc"):
        return
    etc_token_dir = os.path.relpath(token_dir, "/etc")

    def as_user(uid, gid, groups):
        return "setpriv --reuid %d --regid %d %s --inh-caps=-all --" % (
            uid, gid, "--groups " + ",".join(map(str, groups)) if groups else "--clear-groups")

    q = shlex.quote
    lines = [
        "set -euo pipefail",
        "mount --make-rprivate /",
        "ip link set lo up",
        # The node: its /run and /dev/shm/shmarray (fresh tmpfs), /etc with the
        # Secret's mount point and the Services' names.
        "mount -t tmpfs -o mode=0755 tmpfs /run",
        "mkdir -p /run/shmarray",
        "mount -t tmpfs -o mode=1777 tmpfs /dev/shm",
        "etc=$(mktemp -d /tmp/shmarray-pods-etc.XXXXXX)",
        "mount -t tmpfs tmpfs $etc && cp -a /etc/. $etc/",
        "mkdir -p $etc/%s" % q(etc_token_dir),
        "head -c 32 /dev/urandom | base64 > $etc/%s/token" % q(etc_token_dir),
        "chown 0:%d $etc/%s/token && chmod %o $etc/%s/token"
        % (sc["fsGroup"], q(etc_token_dir), mode, q(etc_token_dir)),
    ]
    for s in services:
        lines.append("echo '127.0.0.1 %s.%s.svc' >> $etc/hosts"
                     % (s["metadata"]["name"], s["metadata"]["namespace"]))
    lines += [
        "mount --bind $etc /etc",
        "export PATH=%s:$PATH" % q("BIN_DIR"),
        "export GRPC_DNS_RESOLVER=native",
        "echo '== init container %s'" % init["name"],
        " ".join(q(a) for a in init["command"]),
        "echo '== shmarrayd as %d:%d'" % (sc["runAsUser"], sc["runAsGroup"]),
        "%s shmarrayd %s 2>/tmp/shmarray-pods-daemon.log &" % (
            as_user(sc["runAsUser"], sc["runAsGroup"], []),
            " ".join(q(a) for a in daemon.get("args", []))),
        "daemon=$!",
        "trap 'set +e; kill -TERM $daemon 2>/dev/null; wait $daemon; "
        "echo \"== shmarrayd exited $?\"; cat /tmp/shmarray-pods-daemon.log' EXIT",
        "for i in $(seq 1 200); do",
        "  %s shmarray --socket %s --token-file %s/token ls >/dev/null 2>&1 && break"
        % (as_user(psc["runAsUser"], psc["runAsGroup"], psc["supplementalGroups"]),
           q(flag_value(daemon["args"], "socket")), q(token_dir)),
        "  kill -0 $daemon || exit 1",
        "  sleep 0.05",
        "done",
        "echo '== consumer as %d:%d groups %s'" % (psc["runAsUser"], psc["runAsGroup"],
                                                   psc["supplementalGroups"]),
        "%s %s" % (as_user(psc["runAsUser"], psc["runAsGroup"], psc["supplementalGroups"]),
                   " ".join(q(a) for a in consumer["command"] + consumer["args"])),
        "echo '== consumer exited 0'",
        "ls -ln /run/shmarray /dev/shm",
    ]
    bin_dir = tempfile.mkdtemp(prefix="shmarray-pods-bin.")
    os.chmod(bin_dir, 0o755)
    for path in binaries:  # copies: the build tree may be unreadable to uids 10001/10002
        shutil.copy(path, os.path.join(bin_dir, os.path.basename(path)))
        os.chmod(os.path.join(bin_dir, os.path.basename(path)), 0o755)
    lines[lines.index("export PATH=%s:$PATH" % q("BIN_DIR"))] = "export PATH=%s:$PATH" % q(bin_dir)
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
        f.write("\n".join(lines) + "\n")
        script = f.name
    try:
        proc = subprocess.run(["unshare", "--mount", "--net", "--fork", "bash", script],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=120, check=False)
    finally:
        os.unlink(script)
        shutil.rmtree(bin_dir, ignore_errors=True)
        subprocess.run("rm -rf /tmp/shmarray-pods-etc.* /tmp/shmarray-pods-daemon.log",
                       shell=True, check=False)
    print(proc.stdout)
    check(proc.returncode == 0, "the simulated node failed (exit %d)" % proc.returncode)
    for expected in ("memoryview sum is 351", "after cube[0, 0, 0] = 100: memoryview sum is 178",
                     "read example/cube[0, :, ::-1] over shmarrayd.shmarray.svc:7070",
                     "  [3, 3, 100]", "deleted example/cube", "== consumer exited 0",
                     "shmarrayd stopped"):
        check(expected in proc.stdout, "the output lacks %r" % expected)


def main():
    if sys.argv[1:2] == ["static"] and len(sys.argv) == 4:
        static_checks(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["pods"] and len(sys.argv) == 6:
        pods_check(sys.argv[2], sys.argv[3:6])
    else:
        print(__doc__)
        return 2
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
