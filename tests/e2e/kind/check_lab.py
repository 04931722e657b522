#!/usr/bin/env python3
"""Static checks of the lab's kind side beyond the rendered manifests (issue 12's points).

Usage: check_lab.py --root REPO

Prints one "PASS: name" / "FAIL: name: why" line per check and exits 0 (a crash of the
checker itself is printed as a FAIL line and exits 1). What it checks, each point a defect
found on a real cluster before:
  - ingress-nginx gets a short worker-shutdown-timeout (reload-ingress must drop websockets
    within a short run), and kind-cluster/create applies it; the local nginx uses the same
  - images are built without provenance and loaded from an archive (Docker 29's containerd
    image store breaks `kind load docker-image`), nowhere `kind load docker-image`
  - the MongoDB step-down uses force and checks the answer, on both clusters
  - the single relay's restart-relay stops, waits SECS, starts (no rolling restart)
  - partitions spare loopback and the node's addresses (kubelet probes) and are entered
    through the pod sandbox, so heal works after a container restart
  - the loadgen Indexed Job template (shards in the cluster)
  - the laptop scripts avoid what macOS's bash 3.2 and BSD tools lack
  - the GitHub workflow builds the images once and shares them, and every scenario group
    runs scenario files that assert something, covering every file of chaos/scenarios/
  - both clusters offer the faults of lab/catalog.sh; docs/kind.md names what a laptop needs
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import traceback

import yaml


class Checks:
    def report(self, name, problems):
        if problems:
            shown = "; ".join(problems[:6])
            more = f" (+{len(problems) - 6} more)" if len(problems) > 6 else ""
            print(f"FAIL: {name}: {shown}{more}")
        else:
            print(f"PASS: {name}")
        sys.stdout.flush()


def read(root, rel):
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        return f.read()


def seconds(v):
    m = re.fullmatch(r"(\d+)(ms|s|m)?", str(v).strip())
    if not m:
        return None
    n = int(m.group(1))
    return {None: n, "s": n, "ms": n / 1000, "m": n * 60}[m.group(2)]


def function_body(text, name):
    """The text of a bash function `name() {` up to its closing brace at column 0."""
    m = re.search(rf"^{re.escape(name)}\(\) {{[^\n]*\n(.*?)^}}", text, re.S | re.M)
    return m.group(1) if m else ""


def check_shutdown_timeout(c, root):
    problems = []
    cfg = yaml.safe_load(read(root, "kind-cluster/ingress-nginx/controller-config.yaml")) or {}
    value = (cfg.get("data") or {}).get("worker-shutdown-timeout")
    secs = seconds(value) if value is not None else None
    if secs is None:
        problems.append("controller-config.yaml sets no worker-shutdown-timeout")
    elif secs > 5:
        problems.append(f"worker-shutdown-timeout {value} is not short (a run lasts seconds)")
    create = read(root, "kind-cluster/create")
    if not re.search(r"patch configmap ingress-nginx-controller[^\n]*\\?\n?[^\n]*controller-config\.yaml", create):
        problems.append("kind-cluster/create does not patch the controller ConfigMap with controller-config.yaml")
    tmpl = read(root, "local-cluster/nginx.conf.tmpl")
    m = re.search(r"^worker_shutdown_timeout\s+(\S+);", tmpl, re.M)
    if not m or seconds(m.group(1)) != secs:
        problems.append("the local nginx's worker_shutdown_timeout differs from ingress-nginx's")
    c.report("ingress: short worker-shutdown-timeout on kind (applied by create) and local alike", problems)


def check_image_loading(c, root):
    problems = []
    li = read(root, "kind-cluster/load-images")
    code = "\n".join(ln for ln in li.splitlines() if not ln.lstrip().startswith("#"))
    if "--provenance=false" not in code:
        problems.append("load-images does not build with --provenance=false")
    if not re.search(r"docker save\b", code):
        problems.append("load-images does not save an image archive")
    if not re.search(r"kind load image-archive\b", code):
        problems.append("load-images does not load with kind load image-archive")
    # A user's app image was not built here: it may be a multi-platform pull or carry a
    # provenance attestation, so only the nodes' platform may go into the archive.
    up = "\n".join(ln for ln in read(root, "kind-cluster/up").splitlines() if not ln.lstrip().startswith("#"))
    if "docker save" in up and not re.search(r'docker save -o "\$tmp/app.tar" --platform "\$platform"', up):
        problems.append("up saves the app image without --platform (kind#3795 on a multi-platform image)")
    for d in ("kind-cluster", ".github", "scripts", "chaos", "lab"):
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for f in files:
                p = os.path.join(dirpath, f)
                try:
                    text = open(p, encoding="utf-8").read()
                except (UnicodeDecodeError, OSError):
                    continue
                for ln in text.splitlines():
                    if "kind load docker-image" in ln and not ln.lstrip().startswith("#"):
                        problems.append(f"{os.path.relpath(p, root)} uses kind load docker-image")
    c.report("images: built without provenance, loaded from an archive (containerd image store)", problems)

    # The seed app's image: nothing else builds relaylab/seed-app:dev, which its relaylab.app
    # names for kind, so load-images must (--seed-app), saved for the nodes' platform only
    # (its node base is a multi-platform pull), and up must build it when the nodes lack it.
    problems = []
    if "--seed-app)" not in code or not re.search(
            r'-f "\$ROOT/examples/seed-app/Dockerfile" -t "\$image" "\$ROOT/examples/seed-app"', code):
        problems.append("load-images has no --seed-app building examples/seed-app/Dockerfile in its own context")
    if not re.search(r'docker save -o "\$archive" --platform "\$platform"', code):
        problems.append("load-images saves without --platform (kind#3795 on the node base image)")
    lib = read(root, "kind-cluster/lib.sh")
    if not re.search(r"^SEED_APP_IMAGE=seed-app$", lib, re.M):
        problems.append("lib.sh does not name the seed app's image")
    app = read(root, "examples/seed-app/relaylab.app")
    if not re.search(r"^image\s*=\s*relaylab/seed-app:dev\b", app, re.M):
        problems.append("examples/seed-app/relaylab.app does not name relaylab/seed-app:dev")
    if not re.search(r'if \[ "\$app_image" = "\$seed_image" \]', up) or '"$KIND_DIR/load-images" "$SEED_APP_IMAGE"' not in up:
        problems.append("up does not build the seed app's image when a scenario names it")
    df = "\n".join(ln for ln in read(root, "examples/seed-app/Dockerfile").splitlines() if not ln.lstrip().startswith("#"))
    if not re.search(r"^COPY package\.json package-lock\.json ", df, re.M) or not re.search(r"^RUN npm ci\b", df, re.M):
        problems.append("examples/seed-app/Dockerfile does not npm ci from package-lock.json")
    if re.search(r"^COPY (\. |node_modules)", df, re.M):
        problems.append("examples/seed-app/Dockerfile copies a local node_modules")
    ignore = read(root, "examples/seed-app/.dockerignore").split()
    if "node_modules" not in ignore:
        problems.append("examples/seed-app/.dockerignore does not leave node_modules out")
    c.report("images: the seed app's image is built (load-images --seed-app, up), npm ci, one platform", problems)


def check_stepdown(c, root):
    problems = []
    kf = read(root, "kind-cluster/fault")
    body = function_body(kf, "stepdown_mongo")
    if not re.search(r"replSetStepDown:\s*\$secs", body) or "force: true" not in body:
        problems.append("kind: the step-down is not replSetStepDown with force: true")
    if '"ok":1' not in body or "die" not in body:
        problems.append("kind: the step-down's answer is not checked")
    if "|| true" in body.split("replSetStepDown")[1].split("\n")[0]:
        problems.append("kind: the step-down's error is discarded")
    lf = read(root, "local-cluster/fault")
    lbody = function_body(lf, "stepdown_mongo")
    if "force=1" not in lbody or "die" not in lbody:
        problems.append("local: the step-down of a real mongod lacks force or an error check")
    c.report("stepdown-mongo: force, and a refused step-down is a failure, on both clusters", problems)


def check_restart_relay(c, root):
    problems = []
    body = function_body(read(root, "kind-cluster/fault"), "restart_relay")
    if "rollout restart" in body:
        problems.append("restart-relay uses rollout restart (the new pod starts before the old one stops)")
    down = re.search(r"scale deployment relay --replicas=\$\(\(replicas - 1\)\)", body)
    wait = re.search(r"wait --for=delete", body)
    sleep = re.search(r'sleep "\$secs"', body)
    up = re.search(r'scale deployment relay --replicas="\$replicas"', body)
    if not (down and wait and sleep and up and down.start() < wait.start() < sleep.start() < up.start()):
        problems.append("restart-relay does not scale down, wait for the pod to go, sleep SECS, scale up")
    if "pod-deletion-cost" not in body:
        problems.append("restart-relay does not choose relay N (pod-deletion-cost)")
    c.report("restart-relay N [SECS] on kind: stop, SECS down, start (relay N by deletion cost)", problems)


def check_partition(c, root):
    """The rules themselves are run in network namespaces by tests/e2e/kind_partition.sh;
    here, that kind's fault applies them as that test does, and spares what kubelet needs."""
    problems = []
    kf = read(root, "kind-cluster/fault")
    lib = read(root, "kind-cluster/lib.sh")
    part = function_body(kf, "partition_pod")
    # kubelet's probes leave the node by its route to the pod, whose source kindnet sets to
    # the pod's gateway (not the node's InternalIP): that address must be spared too.
    if not (re.search(r"ip -4 route get \"\$pod_ip\"", part)
            and re.search(r'partition_rules "\$host" "\$probe_src"', part)):
        problems.append("partition does not spare the node and the source the node routes to the pod from "
                        "(kindnet's gateway address: kubelet probes would be dropped)")
    if "netns_run" not in part or "netns_run" not in function_body(kf, "partition_pod_from"):
        problems.append("a partition is not one script run in the pod's namespace (netns_run)")
    run = function_body(kf, "netns_run")
    if "sandbox_pid" not in run or not re.search(r"docker exec -i .*nsenter -t \"\$pid\" -n sh -s", run):
        problems.append("netns_run does not feed its script to sh in the pod sandbox's namespace")
    heal = function_body(kf, "heal_pod")
    if "heal_rules" not in heal or "die" not in heal:
        problems.append("heal does not run heal_rules and fail when rules are left")
    for f in ("partition_rules", "partition_from_rules", "heal_rules"):
        if not function_body(lib, f):
            problems.append(f"lib.sh has no {f}")
    if "crictl inspectp" not in function_body(lib, "sandbox_pid"):
        problems.append("sandbox_pid does not read the pod sandbox's pid")
    c.report("partitions on kind: one script in the pod sandbox's namespace, probes spared, healed", problems)


def check_loadgen_job(c, root):
    problems = []
    job = yaml.safe_load(read(root, "kind-cluster/loadgen/job.yaml"))
    spec = job.get("spec") or {}
    if job.get("kind") != "Job":
        problems.append("not a Job")
    if spec.get("completionMode") != "Indexed":
        problems.append("completionMode is not Indexed")
    if spec.get("completions") != spec.get("parallelism"):
        problems.append("completions != parallelism (the shards must run at once)")
    if spec.get("backoffLimit") != 0:
        problems.append("backoffLimit is not 0 (a retried shard would be another run)")
    if not spec.get("activeDeadlineSeconds"):
        problems.append("no activeDeadlineSeconds")
    ps = (spec.get("template") or {}).get("spec") or {}
    if ps.get("restartPolicy") != "Never":
        problems.append("restartPolicy is not Never")
    if not (ps.get("securityContext") or {}).get("runAsNonRoot"):
        problems.append("not runAsNonRoot")
    cts = ps.get("containers") or []
    if len(cts) != 1 or cts[0].get("image") != "relaylab/loadgen:dev" or cts[0].get("imagePullPolicy") != "IfNotPresent":
        problems.append("not one relaylab/loadgen:dev container with imagePullPolicy IfNotPresent")
    vols = {v.get("name"): v for v in ps.get("volumes") or []}
    mounts = {m.get("name"): m.get("mountPath") for ct in cts for m in ct.get("volumeMounts") or []}
    out = [n for n, v in vols.items() if (v.get("hostPath") or {}).get("path") == "/relaylab-out"]
    if not out or mounts.get(out[0]) != "/relaylab-out":
        problems.append("no hostPath /relaylab-out mounted at /relaylab-out")
    lj = read(root, "kind-cluster/loadgen-job")
    lib = read(root, "kind-cluster/lib.sh")
    if "NODE_OUT=/relaylab-out" not in lib:
        problems.append("lib.sh's NODE_OUT is not the Job's /relaylab-out")
    for needed in ('--shard "$idx/$shards"', "--start-gate", "$(JOB_COMPLETION_INDEX)", "chmod 0777",
                   "docker cp", "kind-cluster/loadgen/job.yaml"[len("kind-cluster/"):]):
        if needed not in lj:
            problems.append(f"loadgen-job lacks {needed}")
    c.report("loadgen in the cluster: an Indexed Job of shards, histories on the nodes, a start gate", problems)


# What bash 3.2 (macOS) or BSD userland lack, in scripts that run on a laptop.
BASH32 = [
    (r"\bmapfile\b|\breadarray\b", "mapfile/readarray (bash 4)"),
    (r"\b(declare|local|typeset)\s+-[a-zA-Z]*A", "associative arrays (bash 4)"),
    (r"\b(declare|local)\s+-[a-zA-Z]*n\b", "namerefs (bash 4.3)"),
    (r"\$\{[A-Za-z_][A-Za-z0-9_]*(,,|\^\^|,|\^)\}", "case conversion (bash 4)"),
    (r"\bwait\s+-n\b", "wait -n (bash 4.3)"),
    (r"\|&|&>>", "|& or &>> (bash 4)"),
    (r"\bcoproc\b", "coproc (bash 4)"),
    (r"(^|[;&|(]\s*|\s)timeout\s+(-[a-z]+\s+\S+\s+)*[\"$0-9]", "GNU timeout (not on macOS; use lab_bounded)"),
    (r"tail\s+--pid", "tail --pid (GNU)"),
    (r"date\s+\+%s\.%N|%N\b", "date +%N (GNU; use lab_now)"),
    (r"\bsed\s+-i\b", "sed -i (differs on BSD)"),
    (r"\breadlink\s+-f\b", "readlink -f (GNU)"),
    (r"\bgrep\s+-[a-zA-Z]*P", "grep -P (GNU)"),
    (r"\bbase64\s+(-[a-zA-Z]*[dD]\b|-i\b)",
     "base64 -d/-D (older macOS has no -d, GNU no -D; use base64 --decode or kubectl's base64decode)"),
]
# An array expansion that fails under `set -u` on bash < 4.4 when the array is empty.
UNGUARDED = re.compile(r'(?<!\+)"\$\{([A-Za-z_][A-Za-z0-9_]*)\[@\]\}"')


def laptop_scripts(root):
    out = ["lab/lab", "lab/catalog.sh", "lab/portable.sh", "chaos/run", "chaos/browser.sh", "chaos/report",
           "scripts/demo"]
    kd = os.path.join(root, "kind-cluster")
    for f in sorted(os.listdir(kd)):
        p = os.path.join(kd, f)
        if os.path.isfile(p) and (os.access(p, os.X_OK) or f.endswith(".sh")):
            out.append(f"kind-cluster/{f}")
    return out


def check_bash32(c, root):
    problems = []
    for rel in laptop_scripts(root):
        for n, ln in enumerate(read(root, rel).splitlines(), 1):
            # A line may say why a construct is safe there: "# bash32-ok: <why>".
            code = ln.split(" #")[0] if not ln.lstrip().startswith("#") else ""
            if not code.strip() or "bash32-ok" in ln:
                continue
            for pat, why in BASH32:
                if re.search(pat, code):
                    problems.append(f"{rel}:{n}: {why}")
            for m in UNGUARDED.finditer(code):
                problems.append(f'{rel}:{n}: "${{{m.group(1)}[@]}}" fails on bash 3.2 when empty; '
                                f'write ${{{m.group(1)}[@]+"${{{m.group(1)}[@]}}"}}')
    c.report(f"laptop scripts ({len(laptop_scripts(root))}) run on bash 3.2 and BSD tools", problems)


def scenario_file(root, name):
    for p in (name, f"chaos/scenarios/{name}.scn"):
        if os.path.isfile(os.path.join(root, p)):
            return p
    return None


def check_workflow(c, root):
    problems = []
    wf = yaml.safe_load(read(root, ".github/workflows/kind-e2e.yml"))
    jobs = wf.get("jobs") or {}
    builders = []
    for name, job in jobs.items():
        for st in job.get("steps") or []:
            run = st.get("run") or ""
            for ln in run.splitlines():
                if "load-images" not in ln or ln.lstrip().startswith("#"):
                    continue
                if re.search(r"load-images\b.*\s--save\s", ln):
                    builders.append(name)
                elif not re.search(r"load-images\b.*\s--archive\s", ln):
                    problems.append(f"job {name} builds images itself")
            if re.search(r"docker build\b", run):
                problems.append(f"job {name} builds images itself")
    if len(builders) != 1:
        problems.append(f"{len(builders)} jobs build the image archive, want exactly 1")
    else:
        b = builders[0]
        if not any("upload-artifact" in (st.get("uses") or "") for st in jobs[b].get("steps") or []):
            problems.append(f"job {b} does not upload the archive")
        # The seed app's group loads relaylab/seed-app:dev from the same archive.
        if not any(re.search(r"load-images\b.*--seed-app", st.get("run") or "") for st in jobs[b].get("steps") or []):
            problems.append(f"job {b} does not build the seed app's image (load-images --seed-app)")
    e2e = jobs.get("e2e") or {}
    needs = e2e.get("needs")
    needs = needs if isinstance(needs, list) else [needs]
    if builders and builders[0] not in needs:
        problems.append("e2e does not need the image job")
    steps = e2e.get("steps") or []
    if not any("download-artifact" in (st.get("uses") or "") for st in steps):
        problems.append("e2e does not download the image archive")
    if not any("load-images --archive" in (st.get("run") or "") for st in steps):
        problems.append("e2e does not load the archive")
    c.report("workflow: the images are built once and shared", problems)

    problems = []
    groups = ((e2e.get("strategy") or {}).get("matrix") or {}).get("include") or []
    if not groups:
        problems.append("no scenario groups")
    if not any("${{ matrix.scenarios }}" in (st.get("run") or "") and "--cluster kind" in (st.get("run") or "")
               for st in steps):
        problems.append("no step runs the group's scenarios with --cluster kind")
    covered = set()
    seed = set()
    for g in groups:
        names = (g.get("scenarios") or "").split()
        if not names:
            problems.append(f"group {g.get('group')} runs nothing")
        # A glob (examples/seed-app/lab/*.scn) is expanded by the step's shell.
        expanded = []
        for n in names:
            if any(ch in n for ch in "*?["):
                hits = sorted(os.path.relpath(p, root) for p in glob.glob(os.path.join(root, n)))
                if not hits:
                    problems.append(f"group {g.get('group')}: {n} matches no file")
                expanded += hits
            else:
                expanded.append(n)
        for n in expanded:
            if n.startswith("examples/seed-app/lab/"):
                seed.add(os.path.basename(n))
            p = scenario_file(root, n)
            if p is None:
                problems.append(f"group {g.get('group')}: no scenario {n}")
                continue
            if not re.search(r"^expect\s", read(root, p), re.M):
                problems.append(f"group {g.get('group')}: {n} asserts nothing")
            covered.add(os.path.basename(p))
    # Browser rows (`browser = N`) run too: Chromium on the runner opens the ingress's port.
    every = {f for f in os.listdir(os.path.join(root, "chaos/scenarios")) if f.endswith(".scn")}
    if every - covered:
        problems.append(f"scenarios run by no group: {sorted(every - covered)}")
    seed_all = {f for f in os.listdir(os.path.join(root, "examples/seed-app/lab")) if f.endswith(".scn")}
    if seed_all - seed:
        problems.append(f"the seed app's scenarios run by no group: {sorted(seed_all - seed)}")
    c.report("workflow: every group runs scenarios with expectations, together all of chaos/scenarios "
             "and examples/seed-app/lab", problems)


def check_browser_kind(c, root):
    """The browser rows are not skipped on kind: the page's bundle is in the fakeapp image
    (check_manifests.py), so nothing but the machine (node, puppeteer-core, Chromium) may
    stop them, and the CI group that runs them has all three."""
    problems = []
    body = function_body(read(root, "chaos/browser.sh"), "browser_lacks")
    if re.search(r'\$CLUSTER"?\s*!?=', body) or "local cluster only" in body:
        problems.append("browser_lacks still skips on kind")
    demo = read(root, "scripts/demo")
    if re.search(r"browser-\*\)\s*;;", demo):
        problems.append("scripts/demo drops the browser rows on kind")
    wf = yaml.safe_load(read(root, ".github/workflows/kind-e2e.yml"))
    e2e = (wf.get("jobs") or {}).get("e2e") or {}
    groups = ((e2e.get("strategy") or {}).get("matrix") or {}).get("include") or []
    bgroups = [g.get("group") for g in groups if any(
        re.search(r"^browser\s*=", read(root, p), re.M)
        for p in (scenario_file(root, n) for n in (g.get("scenarios") or "").split()) if p)]
    steps = e2e.get("steps") or []
    for g in bgroups:
        ok_npm = ok_chrome = False
        for st in steps:
            cond = str(st.get("if") or "")
            if cond and g not in cond:
                continue
            run = st.get("run") or ""
            ok_npm |= "tests/e2e/node" in run and "npm ci" in run
            ok_chrome |= "CHROME_PATH" in run or "CHROME_PATH" in (st.get("env") or {})
        if not (ok_npm and ok_chrome):
            problems.append(f"group {g} runs browser rows without npm ci in tests/e2e/node and CHROME_PATH")
    c.report("browser rows on kind: not skipped for the cluster; the CI group has node, puppeteer-core and Chrome",
             problems)


def check_env_token(c, root):
    """kind-cluster/env decodes the relay token without the host's base64 (older macOS has
    no `base64 -d`): kubectl's base64decode, run here on a Secret made offline."""
    name = "env: the relay token is decoded by kubectl (no base64 -d), and decodes"
    problems = []
    env = read(root, "kind-cluster/env")
    m = re.search(r"-o go-template='\{\{range \.items\}\}(.*?)\{\{end\}\}'", env)
    if not m or "base64decode" not in m.group(1):
        c.report(name, ["env does not decode the token with kubectl's base64decode over .items"])
        return
    kubectl = os.environ.get("KUBECTL", "kubectl")
    if not shutil.which(kubectl):
        print(f"SKIP: {name} (no kubectl)")
        return
    token = "tok:en+/=?"
    r = subprocess.run([kubectl, "create", "secret", "generic", "relay-token", f"--from-literal=token={token}",
                        "--dry-run=client", "-o", f"go-template={m.group(1)}"],
                       capture_output=True, text=True, env=dict(os.environ, KUBECONFIG=os.devnull))
    if r.returncode != 0 or r.stdout != token:
        problems.append(f"the template gives {r.stdout!r} (exit {r.returncode}: {r.stderr.strip()[:100]}), want {token!r}")
    c.report(name, problems)


def check_faults_both(c, root):
    problems = []
    cat = read(root, "lab/catalog.sh")
    block = re.search(r'LAB_FAULTS="(.*?)"\n', cat, re.S).group(1)
    names = [ln.split("|")[0] for ln in block.splitlines() if ln.strip()]
    kf = read(root, "kind-cluster/fault")
    lf = read(root, "local-cluster/fault")
    for n in names:
        for where, text in (("kind-cluster/fault", kf), ("local-cluster/fault", lf)):
            if not re.search(rf"^\s+{re.escape(n)}\)", text, re.M):
                problems.append(f"{where} has no case for {n}")
    c.report(f"faults: both clusters implement all {len(names)} faults of lab/catalog.sh", problems)


def check_verbs_both(c, root):
    """Every verb lab/lab hands to a cluster is a script on both; kind's metrics reads the
    ports the manifests open (relay intake, app http)."""
    problems = []
    lab = read(root, "lab/lab")
    verbs = ["up", "fault"]
    m = re.search(r"^\s+((?:[a-z]+ \| )+[a-z]+)\)\n\s+\[ \$# -eq 0 \]", lab, re.M)
    verbs += [v.strip() for v in m.group(1).split("|")] if m else []
    if "metrics" not in verbs:
        problems.append(f"lab/lab hands no metrics verb to the clusters (verbs found: {verbs})")
    for v in verbs:
        for d in ("local-cluster", "kind-cluster"):
            p = os.path.join(root, d, v)
            if not (os.path.isfile(p) and os.access(p, os.X_OK)):
                problems.append(f"{d}/{v} is missing or not executable")
    km = read(root, "kind-cluster/metrics")
    want = {}
    for rel, label, port_name in (("kind-cluster/manifests/base/relay/relay.yaml", "relay", "intake"),
                                  ("kind-cluster/manifests/base/app.yaml", "fakeapp", "http")):
        for doc in yaml.safe_load_all(read(root, rel)):
            if not doc or doc.get("kind") != "Deployment":
                continue
            for ctr in doc["spec"]["template"]["spec"]["containers"]:
                for port in ctr.get("ports") or []:
                    if port.get("name") == port_name:
                        want[label] = port["containerPort"]
    for label in ("relay", "fakeapp"):
        got = re.search(rf"^scrape {label} \S+ (\d+)$", km, re.M)
        if label not in want:
            problems.append(f"no {label} container port found in the manifests")
        elif not got or int(got.group(1)) != want[label]:
            problems.append(f"kind-cluster/metrics reads {label} on {got.group(1) if got else 'no port'}, "
                            f"the manifests open {want[label]}")
    if "/proxy/metrics" not in km:
        problems.append("kind-cluster/metrics does not read through the API server's pod proxy")
    c.report(f"verbs: both clusters implement {', '.join(verbs)}; kind's metrics reads the pods' ports", problems)


def check_app_image_probe(c, root):
    problems = []
    code = "\n".join(ln for ln in read(root, "kind-cluster/apply").splitlines()
                     if not ln.lstrip().startswith("#"))
    # The last wait goes through the ingress to the apps: fakeapp's GET /products, and with
    # --app-image the app's readiness path (a user's app has no /products of its own).
    if not re.search(r'\[ -z "\$app_image" \] \|\| path=\$app_ready', code):
        problems.append("apply probes the ingress at /products even when the apps are your image")
    if re.search(r"url=http://127\.0\.0\.1:[0-9]+/products", code):
        problems.append("apply's ingress URL is fixed to /products")
    c.report("apply: with --app-image, the ingress is probed at the app's readiness path", problems)


def check_app_image_prestop(c, root):
    """--app-image: the user's image may have no `sleep` binary (distroless), so the apps'
    preStop must not exec anything in it: the kubelet's sleep action where the cluster has it
    (Kubernetes 1.30+), else no hook. Runs app-image.jq over two rendered overlays."""
    name = "apply --app-image: no exec preStop in your image (preStop.sleep on 1.30+, else none)"
    problems = []
    kubectl = os.environ.get("KUBECTL", "kubectl")
    if not shutil.which(kubectl) or not shutil.which("jq"):
        print(f"SKIP: {name} (needs kubectl and jq)")
        return
    lib = read(root, "kind-cluster/lib.sh")
    if not re.search(r'\[ "\$minor" -ge 30 \]', function_body(lib, "has_sleep_hook")):
        problems.append("lib.sh does not check the server is Kubernetes 1.30+ before using preStop.sleep")
    if "--argjson sleep_hook" not in function_body(lib, "render_app_image"):
        problems.append("render_app_image does not pass sleep_hook to app-image.jq")
    # The oldest kind docs/kind.md accepts must default to a node image with the sleep action.
    m = re.search(r"\*\*kind\*\* v0\.(\d+) or later", read(root, "docs/kind.md"))
    if not m or int(m.group(1)) < 24:
        problems.append("docs/kind.md's minimum kind is not v0.24+ (default node image Kubernetes 1.31)")
    for ov in ("embedded-rr", "relay"):
        out = subprocess.run([kubectl, "kustomize", os.path.join(root, "kind-cluster/manifests/overlays", ov)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            problems.append(f"{ov}: kustomize failed")
            continue
        lst = json.dumps({"apiVersion": "v1", "kind": "List",
                          "items": [o for o in yaml.safe_load_all(out.stdout) if o]})
        for hook in ("true", "false"):
            r = subprocess.run(["jq", "--arg", "image", "gcr.io/distroless/nodejs20-debian12", "--arg", "ready",
                                "/healthz", "--argjson", "sleep_hook", hook, "-f",
                                os.path.join(root, "kind-cluster/app-image.jq")],
                               input=lst, capture_output=True, text=True)
            if r.returncode != 0:
                problems.append(f"{ov}: app-image.jq failed: {r.stderr.strip()[:120]}")
                continue
            dep = [o for o in json.loads(r.stdout)["items"]
                   if o.get("kind") == "Deployment" and o["metadata"]["name"] == "app"][0]
            spec = dep["spec"]["template"]["spec"]
            ct = [x for x in spec["containers"] if x["name"] == "app"][0]
            pre = (ct.get("lifecycle") or {}).get("preStop")
            if pre and "exec" in pre:
                problems.append(f"{ov} (sleep_hook={hook}): preStop execs {pre['exec'].get('command')} in your image")
            if hook == "true":
                secs = ((pre or {}).get("sleep") or {}).get("seconds")
                if not secs or secs >= spec.get("terminationGracePeriodSeconds", 30):
                    problems.append(f"{ov}: no preStop.sleep shorter than the grace period on 1.30+")
            elif pre:
                problems.append(f"{ov}: a preStop hook on a cluster without the sleep action: {pre}")
    c.report(name, problems)


def check_demo_list(c, root):
    """make demo, the main job, runs every shipped scenario: scripts/demo lists its rows in
    story order, so a new scenario file left out of that list would silently never run."""
    demo = read(root, "scripts/demo")
    listed = set(re.findall(r"[A-Za-z0-9_./-]+", " ".join(
        m for m in re.findall(r'DEFAULT="([^"]*)"', demo, re.S))))
    names = {os.path.basename(n)[:-len(".scn")] if n.endswith(".scn") else n for n in listed}
    problems = []
    for d in ("chaos/scenarios", "examples/seed-app/lab"):
        for f in sorted(os.listdir(os.path.join(root, d))):
            if f.endswith(".scn") and f[:-len(".scn")] not in names:
                problems.append(f"{d}/{f} is not in scripts/demo's list")
    c.report("demo: scripts/demo runs every scenario of chaos/scenarios and examples/seed-app/lab",
             problems)


def check_docs(c, root):
    problems = []
    doc = read(root, "docs/kind.md").lower()
    for tool in ("docker", "kind", "kubectl", "bash", "jq"):
        if not re.search(rf"\b{tool}\b", doc):
            problems.append(f"docs/kind.md does not name {tool}")
    if "what a laptop needs" not in doc:
        problems.append("docs/kind.md has no 'What a laptop needs' section")
    for cmd in ("make kind-demo", "lab --cluster kind up", "chaos/run --cluster kind"):
        if cmd not in doc:
            problems.append(f"docs/kind.md does not show {cmd}")
    c.report("docs/kind.md: what a laptop needs and the commands", problems)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    root = ap.parse_args().root
    c = Checks()
    for check in (check_shutdown_timeout, check_image_loading, check_stepdown, check_restart_relay,
                  check_partition, check_loadgen_job, check_bash32, check_workflow, check_faults_both, check_verbs_both,
                  check_app_image_probe, check_app_image_prestop, check_browser_kind, check_env_token, check_demo_list, check_docs):
        try:
            check(c, root)
        except (OSError, KeyError, AttributeError, yaml.YAMLError, IndexError) as e:
            c.report(check.__name__, [f"could not check: {e!r}"])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # a checker bug must show up as a failure, not as silence
        print("FAIL: check_lab.py crashed: " + traceback.format_exc().replace("\n", " | "))
        sys.exit(1)
