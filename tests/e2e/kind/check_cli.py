#!/usr/bin/env python3
"""Every kubectl and docker call of kind-cluster/, checked against the CLIs themselves.

Usage: check_cli.py --root REPO [--rendered DIR] [--script FILE]...

kind-cluster/ has never run where these checks run (no Docker engine), so a misspelt flag or
a wait on a condition the object never gets would first show on a laptop. This reads every
script of kind-cluster/ (or the --script files) the way bash splits it: line continuations,
quotes, command substitutions (their commands are calls too), pipelines, `&&`/`||`, and the
wrappers lib.sh defines, found by their shape rather than by name: a function whose body is
`kubectl ARGS... "$@"` is a kubectl call with ARGS first (k, kn), and a function that runs
`"$@"` after `shift N` runs a command after N arguments of its own (retry, wait_until).
Each call is then checked against this machine's kubectl (`kubectl <verb> [<sub>] --help`,
`kubectl options` for the global flags) and docker (`docker <cmd> --help`):
  - the verb (and subcommand) exists; every long and short flag exists for it, and a flag
    that takes a value has one
  - values kubectl checks only when it runs: -o formats (the verb's own list), --dry-run,
    patch --type, durations (--timeout, --request-timeout: kubectl wants a unit), wait's
    --for (delete, condition=NAME[=VALUE], jsonpath=EXPR=VALUE: the forms kubectl 1.27,
    the oldest docs/kind.md accepts, knows; --for=create is 1.31+), label selectors
  - resource types are ones the cluster has (built-in or the lab's CRDs); rollout only on
    what rolls out; a --for=condition=NAME is a condition that kind of object gets (a wait
    on any other never ends)
  - every -o jsonpath / go-template / custom-columns / --sort-by expression parses (kubectl
    itself, offline) and reaches a field on a sample object of the real shape (a field the
    sample lacks is a typo or a field the API does not have: check the API reference before
    adding it to SAMPLES below)
  - exec/logs -c names a container of the rendered manifests; a label selector on the lab's
    namespace names a label the rendered manifests carry
Prints one PASS:/FAIL: line per script and per CLI ("SKIP:" when docker is missing), naming
the script and line of each problem, and exits 0 (1 when the checker itself crashed).
"""

import argparse
import atexit
import copy
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback

import yaml

DYN = "\x01"  # stands for whatever an expansion gives at run time

# ---------------------------------------------------------------- bash, as far as needed


class Word:
    """A shell word: its text as written, its value with expansions as DYN, and whether an
    unquoted expansion or "$@" may make it any number of words."""

    def __init__(self, raw, val, multi, line):
        self.raw, self.val, self.multi, self.line = raw, val, multi, line

    @property
    def static(self):
        return DYN not in self.val and not self.multi

    def __repr__(self):
        return f"Word({self.raw!r})"


OPS = ("&&", "||", ";;", "|&", ";", "|", "&", "(", ")")
REDIR = re.compile(r"(\d*|&)(>>|>&|>\||<<<|<<-|<<|<&|<>|>|<)")


def match_close(text, i, opener, closer):
    """Index just past the `closer` that ends the construct whose body starts at i (after
    `opener`), skipping quotes and nested constructs."""
    depth = 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            i = text.index("'", i + 1) + 1
            continue
        if c == '"':
            i = skip_dquote(text, i + 1)
            continue
        if text.startswith("$(", i) or text.startswith("${", i):
            o = text[i + 1]
            i = match_close(text, i + 2, o, ")" if o == "(" else "}")
            continue
        if c == opener:
            depth += 1
        elif c == closer:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unterminated {opener}")


def skip_dquote(text, i):
    """Index just past the closing double quote of a string whose body starts at i."""
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        if text.startswith("$(", i) or text.startswith("${", i):
            o = text[i + 1]
            i = match_close(text, i + 2, o, ")" if o == "(" else "}")
            continue
        if c == "`":
            i = text.index("`", i + 1) + 1
            continue
        i += 1
    raise ValueError("unterminated double quote")


class Lexer:
    """Turns a script into words and operators; the commands of every $(...) go to `subs`
    as (text, first line) to be parsed on their own."""

    def __init__(self, text, line=1):
        self.text, self.line0 = text, line
        self.subs = []

    def lineno(self, i):
        return self.line0 + self.text.count("\n", 0, i)

    def expansion(self, i):
        """At a `$`: (end index, value text, is_array_or_at)."""
        t = self.text
        if t.startswith("$((", i):
            return match_close(t, i + 3, "(", ")") + 1, DYN, False
        if t.startswith("$(", i):
            end = match_close(t, i + 2, "(", ")")
            self.subs.append((t[i + 2:end - 1], self.lineno(i)))
            return end, DYN, False
        if t.startswith("${", i):
            end = match_close(t, i + 2, "{", "}")
            body = t[i + 2:end - 1]
            for m in re.finditer(r"\$\(", body):  # ${x:-$(cmd)}
                j = i + 2 + m.start()
                e2 = match_close(t, j + 2, "(", ")")
                self.subs.append((t[j + 2:e2 - 1], self.lineno(j)))
            return end, DYN, "[@]" in body or body == "@"
        if t.startswith("$'", i):
            end = t.index("'", i + 2)
            return end + 1, t[i + 2:end], False
        m = re.match(r"\$([A-Za-z_]\w*|[0-9@*#?$!-])", t[i:])
        if m:
            return i + m.end(), DYN, m.group(1) in "@*"
        return i + 1, "$", False

    def tokens(self):
        t = self.text
        n = len(t)
        i = 0
        out = []
        heredocs = []
        while i < n:
            c = t[i]
            if c == "\\" and t.startswith("\\\n", i):
                i += 2
                continue
            if c in " \t":
                i += 1
                continue
            if c == "\n":
                out.append(("op", "\n", self.lineno(i)))
                i += 1
                for delim in heredocs:  # skip here-document bodies
                    while i < n:
                        e = t.find("\n", i)
                        e = n if e < 0 else e
                        line, i = t[i:e], e + 1
                        if line.strip() == delim:
                            break
                heredocs = []
                continue
            if c == "#":
                e = t.find("\n", i)
                i = n if e < 0 else e
                continue
            m = REDIR.match(t, i)
            if m and (m.group(1) == "" or m.group(1) == "&" or m.group(1).isdigit()):
                op = m.group(2)
                out.append(("redir", m.group(0), self.lineno(i)))
                i = m.end()
                if op in ("<<", "<<-"):
                    while i < n and t[i] in " \t":
                        i += 1
                    w, i = self.word(i)
                    heredocs.append(w.raw.strip("'\""))
                    out.append(("redir-target", w, w.line))
                elif op in (">&", "<&") and i < n and (t[i].isdigit() or t[i] == "-"):
                    i += 1
                else:
                    while i < n and t[i] in " \t":
                        i += 1
                    w, i = self.word(i)
                    out.append(("redir-target", w, w.line))
                continue
            op = next((o for o in OPS if t.startswith(o, i)), None)
            if op:
                out.append(("op", op, self.lineno(i)))
                i += len(op)
                continue
            w, i = self.word(i)
            out.append(("word", w, w.line))
        return out

    def word(self, i):
        t = self.text
        n = len(t)
        start = i
        val = []
        multi = False
        while i < n:
            c = t[i]
            if c in " \t\n;|&()<>":
                break
            if c == "\\":
                if t.startswith("\\\n", i):
                    i += 2
                    continue
                val.append(t[i + 1] if i + 1 < n else "")
                i += 2
            elif c == "'":
                e = t.index("'", i + 1)
                val.append(t[i + 1:e])
                i = e + 1
            elif c == '"':
                e = skip_dquote(t, i + 1)
                j = i + 1
                while j < e - 1:
                    d = t[j]
                    if d == "\\" and t[j + 1] in '"\\$`\n':
                        val.append(t[j + 1])
                        j += 2
                    elif d == "$":
                        j, v, arr = self.expansion(j)
                        val.append(v)
                        multi = multi or arr
                    else:
                        val.append(d)
                        j += 1
                i = e
            elif c == "$":
                i, v, arr = self.expansion(i)
                val.append(v)
                multi = multi or v == DYN  # unquoted: split into any number of words
            elif c == "`":
                e = t.index("`", i + 1)
                self.subs.append((t[i + 1:e], self.lineno(i)))
                val.append(DYN)
                i = e + 1
            else:
                val.append(c)
                i += 1
        raw = t[start:i]
        return Word(raw, "".join(val), multi, self.lineno(start)), i


RESERVED = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time"}
SKIP_FIRST = {"case", "for", "[", "[[", "local", "export", "readonly", "declare", "function", "esac", "in"}


class Script:
    """A script's simple commands (a list of Words each), function bodies marked."""

    def __init__(self, path, text, line=1):
        self.path = path
        self.commands = []  # (words, function name or None)
        self.parse(text, line)

    def parse(self, text, line):
        lx = Lexer(text, line)
        toks = lx.tokens()
        cur = []
        func = []  # stack of (name, brace depth at its opening)
        depth = 0
        pending = None  # a name followed by ( ) awaits its {
        i = 0
        while i < len(toks):
            kind, v, _ = toks[i]
            if kind == "word" and v.raw == "{" and not cur:
                depth += 1
                if pending:
                    func.append((pending, depth))
                    pending = None
                i += 1
                continue
            if kind == "word" and v.raw == "}" and not cur:
                if func and func[-1][1] == depth:
                    func.pop()
                depth -= 1
                i += 1
                continue
            if kind == "word" and not cur and i + 2 < len(toks) and toks[i + 1][1] == "(" and toks[i + 2][1] == ")":
                pending = v.raw
                i += 3
                continue
            if kind == "op":
                self.flush(cur, func)
                cur = []
            elif kind == "word":
                cur.append(v)
            i += 1
        self.flush(cur, func)
        for sub, ln in lx.subs:
            inner = Script(self.path, sub, ln)
            self.commands.extend((w, f or (func[-1][0] if func else None)) for w, f in inner.commands)

    def flush(self, words, func):
        # A closing brace on the same line as the last command: `k() { kubectl ...; }`
        while words and words[-1].raw == "}":
            words = words[:-1]
        for w in words:
            w.origin = self.path  # a wrapper's words are reported where the wrapper is
        if words:
            self.commands.append((words, func[-1][0] if func else None))


def strip_command(words, runners):
    """The command a simple command runs: reserved words, assignments and runner functions
    (retry N P CMD...) taken off. None for what is not a command (tests, case, local)."""
    while words:
        w = words[0]
        if w.raw in RESERVED:
            words = words[1:]
            continue
        if re.match(r"^[A-Za-z_]\w*(\[[^]]*\])?\+?=", w.raw):
            words = words[1:]
            continue
        if w.raw in ("command", "exec", "builtin"):
            words = words[1:]
            continue
        if w.raw in runners and len(words) > runners[w.raw]:
            words = words[1 + runners[w.raw]:]
            continue
        if w.raw in SKIP_FIRST:
            return None
        return words
    return None


def find_wrappers(scripts):
    """kubectl wrappers {name: [prefix Words]} and runners {name: arguments before CMD}."""
    wrappers, runners = {}, {}
    bodies = {}
    for s in scripts:
        for words, func in s.commands:
            if func:
                bodies.setdefault(func, []).append(words)
    for name, cmds in bodies.items():
        shift = None
        for words in cmds:
            if words[0].raw == "shift":
                shift = int(words[1].raw) if len(words) > 1 and words[1].raw.isdigit() else 1
            if words[0].raw in ('"$@"', "$@") and shift is not None:
                runners[name] = shift
    changed = True
    while changed:
        changed = False
        for name, cmds in bodies.items():
            if name in wrappers:
                continue
            for words in cmds:
                ws = strip_command(words, runners) or []
                if len(ws) >= 2 and ws[-1].raw in ('"$@"', "$@"):
                    head = ws[0].raw
                    if head == "kubectl":
                        wrappers[name] = ws[1:-1]
                    elif head in wrappers:
                        wrappers[name] = wrappers[head] + ws[1:-1]
                    else:
                        continue
                    changed = True
    return wrappers, runners


# ---------------------------------------------------------------- the CLIs' own help


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


class CliHelp:
    """A CLI's `--help`, read once per command path: command(path) is (flags, subcommands),
    or None when there is no such command; subclasses read their CLI's help format."""

    def command(self, path):
        key = tuple(path)
        if key not in self.cache:
            self.cache[key] = self.read_help(path)
        return self.cache[key]


class KubectlHelp(CliHelp):
    def __init__(self, kubectl):
        self.kubectl = kubectl
        self.cache = {}
        self.globals = self.parse_flags(run([kubectl, "options"]).stdout)

    @staticmethod
    def parse_flags(text):
        """{long: (short, takes_value, description)} from kubectl's help text."""
        flags = {}
        lines = text.splitlines()
        for k, ln in enumerate(lines):
            m = re.match(r"^\s+(?:-(\w), )?--([\w-]+)=(.*):$", ln)
            if not m:
                continue
            desc = lines[k + 1].strip() if k + 1 < len(lines) else ""
            flags[m.group(2)] = (m.group(1), m.group(3) not in ("true", "false"), desc)
        return flags

    def read_help(self, path):
        """(flags, subcommands) of `kubectl PATH...`, or None when there is no such command."""
        p = run([self.kubectl, *path, "--help"])
        text = p.stdout
        if p.returncode != 0 or not text.strip():
            return None
        # `kubectl foo --help` prints kubectl's own help for an unknown foo
        if path and re.search(r"^Usage:\n\s+kubectl \[flags\] \[options\]", text, re.M):
            return None
        subs = set()
        if "Available Commands:" in text:
            block = text.split("Available Commands:", 1)[1].split("\n\n", 1)[0]
            subs = {m.group(1) for m in re.finditer(r"^\s+([\w-]+)\s", block, re.M)}
        return (self.parse_flags(text), subs)


class DockerHelp(CliHelp):
    def __init__(self, docker):
        self.docker = docker
        self.cache = {}
        top = run([docker, "--help"]).stdout
        self.commands = set(re.findall(r"^\s{2}([a-z][\w-]*)\*?\s{2,}", top, re.M))
        self.globals = self.parse_flags(top.split("Global Options:", 1)[-1] if "Global Options:" in top else top)

    @staticmethod
    def parse_flags(text):
        flags = {}
        for m in re.finditer(r"^\s+(?:-(\w), )?\s*--([\w-]+)(?: (\w+))?\s", text, re.M):
            flags[m.group(2)] = (m.group(1), m.group(3) is not None, "")
        return flags

    def read_help(self, path):
        """(flags, subcommands) of `docker PATH...`, or None when there is no such command."""
        p = run([self.docker, *path, "--help"])
        text = p.stdout
        # an unknown command (or a plugin not installed here) prints docker's own help
        if p.returncode != 0 or "Usage:" not in text or re.search(r"^Usage:\s+docker \[OPTIONS\] COMMAND", text, re.M):
            return None
        subs = set()
        m = re.search(r"^Commands:\n(.*?)\n\n", text, re.M | re.S)
        if m:
            subs = set(re.findall(r"^\s{2}([a-z][\w-]*)\s", m.group(1), re.M))
        opts = text.split("Options:", 1)[1] if "Options:" in text else ""
        return (self.parse_flags(opts), subs)


# kind has no binary here: its commands and flags as kind v0.24.0 (the oldest docs/kind.md
# accepts) defines them (pkg/cmd/kind/...), {command path: {long: (short, takes value)}}.
KIND_GLOBAL = {"loglevel": ("", True), "verbosity": ("v", True), "quiet": ("q", False)}
KIND_COMMANDS = {
    ("create", "cluster"): {"name": ("n", True), "config": ("", True), "image": ("", True),
                            "retain": ("", False), "wait": ("", True), "kubeconfig": ("", True)},
    ("delete", "cluster"): {"name": ("n", True), "kubeconfig": ("", True)},
    ("delete", "clusters"): {"all": ("A", False), "kubeconfig": ("", True)},
    ("get", "clusters"): {},
    ("get", "nodes"): {"name": ("n", True), "all-clusters": ("A", False)},
    ("get", "kubeconfig"): {"name": ("n", True), "internal": ("", False)},
    ("load", "image-archive"): {"name": ("n", True), "nodes": ("", True)},
    ("load", "docker-image"): {"name": ("n", True), "nodes": ("", True)},
    ("export", "logs"): {"name": ("n", True)},
    ("export", "kubeconfig"): {"name": ("n", True), "kubeconfig": ("", True), "internal": ("", False)},
    ("version",): {},
}

# ---------------------------------------------------------------- what a cluster has

# Resource names kubectl resolves on the lab's cluster (built in, or the CRDs that
# kind-cluster/create installs) -> (Kind, rolls out).
TYPES = {}


def _types(kind, names, rollout=False, group=""):
    for n in names:
        TYPES[n] = (kind, rollout)
        if group:
            TYPES[f"{n}.{group}"] = (kind, rollout)


_types("Pod", ["pod", "pods", "po"])
_types("Deployment", ["deployment", "deployments", "deploy"], True, "apps")
_types("StatefulSet", ["statefulset", "statefulsets", "sts"], True, "apps")
_types("DaemonSet", ["daemonset", "daemonsets", "ds"], True, "apps")
_types("ReplicaSet", ["replicaset", "replicasets", "rs"], False, "apps")
_types("Job", ["job", "jobs"], False, "batch")
_types("Service", ["service", "services", "svc"])
_types("Ingress", ["ingress", "ingresses", "ing"], False, "networking.k8s.io")
_types("ConfigMap", ["configmap", "configmaps", "cm"])
_types("Secret", ["secret", "secrets"])
_types("Namespace", ["namespace", "namespaces", "ns"])
_types("Node", ["node", "nodes", "no"])
_types("Event", ["event", "events", "ev"])
_types("Endpoints", ["endpoints", "ep"])
_types("PersistentVolumeClaim", ["persistentvolumeclaim", "persistentvolumeclaims", "pvc"])
_types("PodDisruptionBudget", ["poddisruptionbudget", "poddisruptionbudgets", "pdb"], False, "policy")
_types("CustomResourceDefinition", ["customresourcedefinition", "customresourcedefinitions", "crd", "crds"],
       False, "apiextensions.k8s.io")
_types("Gateway", ["gateway", "gateways"], False, "gateway.networking.k8s.io")
_types("GatewayClass", ["gatewayclass", "gatewayclasses", "gc"], False, "gateway.networking.k8s.io")
_types("HTTPRoute", ["httproute", "httproutes"], False, "gateway.networking.k8s.io")
_types("EnvoyProxy", ["envoyproxy", "envoyproxies"], False, "gateway.envoyproxy.io")

# The condition types each kind's status.conditions gets (API reference; Gateway API spec).
# A kind absent here has no status.conditions a wait could see (StatefulSet, Service,
# HTTPRoute, whose conditions are per parent).
CONDITIONS = {
    "Pod": {"PodScheduled", "PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready",
            "DisruptionTarget"},
    "Job": {"Complete", "Failed", "Suspended", "FailureTarget", "SuccessCriteriaMet"},
    "Deployment": {"Available", "Progressing", "ReplicaFailure"},
    "ReplicaSet": {"ReplicaFailure"},
    "Node": {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"},
    "CustomResourceDefinition": {"Established", "NamesAccepted", "NonStructuralSchema", "Terminating"},
    "Gateway": {"Accepted", "Programmed"},
    "GatewayClass": {"Accepted", "SupportedVersion"},
    "PersistentVolumeClaim": {"Resizing", "FileSystemResizePending"},
    "PodDisruptionBudget": {"DisruptionAllowed"},
    "Namespace": {"NamespaceDeletionDiscoveryFailure", "NamespaceDeletionContentFailure"},
}

# One object of each kind the scripts read, of the API's shape, with every field a script
# reads. Free-form maps (labels, annotations, data) take any key and are filled in from the
# expression. Before adding a field, check that the API has it under that name.
_T = "2026-01-01T00:00:00Z"
_META = {"name": "x", "namespace": "relaylab", "uid": "0f0e0d0c-0000-4000-8000-000000000000",
         "creationTimestamp": _T, "deletionTimestamp": _T, "labels": {}, "annotations": {}}
_CONTAINER = {"name": "app", "image": "relaylab/fakeapp:dev",
              "env": [{"name": "MONGO_URI", "value": "mongodb://mongo-0.mongo:27017/?replicaSet=rs0"}],
              "ports": [{"name": "http", "containerPort": 3000}]}
_TEMPLATE = {"metadata": {"labels": {}}, "spec": {"containers": [_CONTAINER]}}
SAMPLES = {
    "Pod": {
        "apiVersion": "v1", "kind": "Pod", "metadata": _META,
        "spec": {"nodeName": "relaylab-worker", "containers": [_CONTAINER]},
        "status": {
            "phase": "Running", "hostIP": "172.18.0.3", "hostIPs": [{"ip": "172.18.0.3"}],
            "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}], "startTime": _T,
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": _T}],
            "containerStatuses": [{
                "name": "app", "ready": True, "started": True, "restartCount": 2,
                "containerID": "containerd://0123abcd", "image": "relaylab/fakeapp:dev",
                "imageID": "sha256:0123", "state": {"running": {"startedAt": _T}},
                "lastState": {"terminated": {"exitCode": 137, "reason": "Error", "finishedAt": _T}}}],
        },
    },
    "Deployment": {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _META,
        "spec": {"replicas": 3, "selector": {"matchLabels": {}}, "template": _TEMPLATE},
        "status": {"replicas": 3, "readyReplicas": 3, "availableReplicas": 3, "updatedReplicas": 3,
                   "observedGeneration": 1, "conditions": [{"type": "Available", "status": "True"}]},
    },
    "StatefulSet": {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _META,
        "spec": {"replicas": 3, "serviceName": "mongo", "selector": {"matchLabels": {}}, "template": _TEMPLATE},
        "status": {"replicas": 3, "readyReplicas": 3, "currentReplicas": 3, "updatedReplicas": 3,
                   "availableReplicas": 3, "observedGeneration": 1},
    },
    "Job": {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": _META,
        "spec": {"completions": 3, "parallelism": 3, "backoffLimit": 0, "completionMode": "Indexed",
                 "template": _TEMPLATE},
        "status": {"active": 1, "succeeded": 1, "failed": 1, "ready": 1, "startTime": _T,
                   "completedIndexes": "0-1", "conditions": [{"type": "Complete", "status": "True"}]},
    },
    "Namespace": {"apiVersion": "v1", "kind": "Namespace", "metadata": _META, "status": {"phase": "Active"}},
    "Secret": {"apiVersion": "v1", "kind": "Secret", "metadata": _META, "type": "Opaque", "data": {}},
    "ConfigMap": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _META, "data": {}},
    "Service": {"apiVersion": "v1", "kind": "Service", "metadata": _META,
                "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "selector": {},
                         "ports": [{"name": "http", "port": 80, "targetPort": 3000, "nodePort": 30080}]}},
    "Ingress": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": _META,
                "spec": {"ingressClassName": "nginx", "rules": []},
                "status": {"loadBalancer": {"ingress": [{"hostname": "localhost"}]}}},
}
FREE_MAPS = ("metadata.annotations", "metadata.labels", "data", "spec.selector.matchLabels",
             "spec.template.metadata.labels")


def fill_free_maps(obj, expr):
    """Put the keys the expression reads from free-form maps into the sample."""
    for path in FREE_MAPS:
        pat = r"\." + r"\.".join(map(re.escape, path.split("."))) + r"\.((?:\\.|[^.\[\]}\s|)])+)"
        for m in re.finditer(pat, expr):
            key = m.group(1).replace("\\.", ".")
            d = obj
            for p in path.split("."):
                d = d.setdefault(p, {})
            d[key] = "c2FtcGxl"  # base64 of "sample": decodable, like a Secret's data


# ---------------------------------------------------------------- kubectl calls

DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")
SELECTOR_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
SELECTOR_VAL = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


def placeholder(s):
    return s.replace(DYN, "x")


class Checker:
    def __init__(self, root, kubectl, docker, rendered):
        self.root = root
        self.kh = KubectlHelp(kubectl)
        self.kubectl = kubectl
        self.dh = DockerHelp(docker) if docker else None
        self.tmp = tempfile.mkdtemp(prefix="check_cli.")
        atexit.register(shutil.rmtree, self.tmp, True)
        self.containers, self.labels = self.read_rendered(rendered)
        self.seen = {"kubectl": 0, "docker": 0, "kind": 0}
        self.eval_cache = {}

    def read_rendered(self, rendered):
        containers, labels = set(), set()
        docs = []
        files = sorted(glob.glob(os.path.join(rendered, "*.yaml"))) if rendered else []
        for f in files:
            with open(f, encoding="utf-8") as fh:
                docs.extend(d for d in yaml.safe_load_all(fh) if d)
        for extra in ("kind-cluster/loadgen/job.yaml",):
            p = os.path.join(self.root, extra)
            if os.path.exists(p):
                with open(p, encoding="utf-8") as fh:
                    docs.extend(d for d in yaml.safe_load_all(fh) if d)

        def walk(o):
            if isinstance(o, dict):
                if isinstance(o.get("containers"), list):
                    for c in o["containers"]:
                        if isinstance(c, dict) and "name" in c:
                            containers.add(c["name"])
                md = o.get("metadata")
                if isinstance(md, dict) and isinstance(md.get("labels"), dict):
                    labels.update((k, str(v)) for k, v in md["labels"].items())
                for v in o.values():
                    walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)

        walk(docs)
        return (containers if files else None), (labels if files else None)

    # -- expressions, evaluated by kubectl itself on a sample

    def evaluate(self, kind, is_list, fmt, expr):
        """None when EXPR (jsonpath or go-template) parses and every field it names is on
        the sample KIND (a List of it when is_list), else kubectl's complaint."""
        key = (kind, is_list, fmt, expr)
        if key in self.eval_cache:
            return self.eval_cache[key]
        if kind not in SAMPLES:
            self.eval_cache[key] = f"no sample {kind} to check {fmt} {expr!r} against (add one to SAMPLES)"
            return self.eval_cache[key]
        item = copy.deepcopy(SAMPLES[kind])
        fill_free_maps(item, expr)
        if is_list:
            # kubectl would take a List apart into its items here, so the items go under a
            # field of another name and the expression reads that field instead.
            obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "list"}, "relaylabItems": [item]}
            expr2 = re.sub(r"(?<![\w.])\.items\b", ".relaylabItems", expr)
        else:
            obj, expr2 = item, expr
        path = os.path.join(self.tmp, "obj.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(obj, f)
        p = run([self.kubectl, "annotate", "--local", "-f", path, "relaylab.dev/check=1",
                 "--allow-missing-template-keys=false", "-o", f"{fmt}={expr2}"])
        err = None
        if p.returncode != 0:
            first = next((ln for ln in p.stderr.splitlines() if ln.strip()), "failed")
            first = first.split(". Printing more information", 1)[0].replace("relaylabItems", "items")
            err = re.sub(r"^error: ", "", first)[:200]
        self.eval_cache[key] = err
        return err

    def check_kubectl(self, words, where, problems):
        self.seen["kubectl"] += 1
        args = list(words)
        gl = self.kh.globals
        path = []
        spec = self.kh.command([])
        pos = []
        values = {}  # long flag -> [Word values]
        i = 0
        unknown_rest = False

        def flag_table():
            return dict(gl, **(spec[0] if spec else {}))

        while i < len(args):
            w = args[i]
            v = w.val
            if w.multi and w.raw in ('"$@"', "$@", '"${@}"'):
                unknown_rest = True
                break
            if v == "--":
                pos.append(("--", args[i + 1:]))
                break
            if v.startswith("--") and len(v) > 2:
                name, eq, val = v[2:].partition("=")
                table = flag_table() if path else gl
                if DYN in name:
                    i += 1
                    continue
                if name not in table:
                    where_ = "before the verb (kubectl options)" if not path else f"for kubectl {' '.join(path)}"
                    problems.append(f"{where(w)}: --{name} is no flag {where_}")
                    i += 1
                    continue
                takes = table[name][1]
                if takes and not eq:
                    if i + 1 >= len(args):
                        problems.append(f"{where(w)}: --{name} needs a value")
                        break
                    values.setdefault(name, []).append(args[i + 1])
                    i += 2
                    continue
                if eq:
                    values.setdefault(name, []).append(Word(w.raw, val, False, w.line))
                i += 1
                continue
            if v.startswith("-") and len(v) > 1 and v[1] != DYN:
                table = flag_table() if path else gl
                shorts = {s: (lng, t) for lng, (s, t, _) in table.items() if s}
                j = 1
                while j < len(v):
                    ch = v[j]
                    if ch not in shorts:
                        where_ = "before the verb (kubectl options)" if not path else f"for kubectl {' '.join(path)}"
                        problems.append(f"{where(w)}: -{ch} is no flag {where_}")
                        break
                    lng, takes = shorts[ch]
                    if takes:
                        rest = v[j + 1:]
                        if rest.startswith("="):
                            rest = rest[1:]
                        if rest:
                            values.setdefault(lng, []).append(Word(w.raw, rest, False, w.line))
                        elif i + 1 < len(args):
                            values.setdefault(lng, []).append(args[i + 1])
                            i += 1
                        else:
                            problems.append(f"{where(w)}: -{ch} needs a value")
                        break
                    j += 1
                i += 1
                continue
            # a word that is not a flag: the verb, a subcommand, or an argument
            if not w.static and (not path or (spec and spec[1] and len(path) == 1 and not pos)):
                if not path:
                    unknown_rest = True
                    break
            if not path:
                spec = self.kh.command([v])
                if spec is None:
                    problems.append(f"{where(w)}: kubectl has no command {v!r}")
                    return
                path = [v]
            elif spec and spec[1] and len(path) == 1 and not pos and v in spec[1]:
                sub = self.kh.command(path + [v])
                if sub is None:
                    problems.append(f"{where(w)}: kubectl {path[0]} has no subcommand {v!r}")
                    return
                spec = sub
                path.append(v)
            elif spec and spec[1] and len(path) == 1 and not pos and w.static and path[0] in ("rollout", "create", "config", "set", "auth", "certificate", "top", "apply", "plugin"):
                if path[0] == "apply" and v not in spec[1]:
                    pos.append(w)
                    i += 1
                    continue
                problems.append(f"{where(w)}: kubectl {path[0]} has no subcommand {v!r}")
                return
            else:
                pos.append(w)
            i += 1
        if not path:
            if not unknown_rest:
                problems.append(f"{where(words[0])}: kubectl without a command")
            return
        self.check_values(path, pos, values, where, words, problems, unknown_rest)

    def target(self, path, pos):
        """(Kind, names given) of the resource a call acts on, or (None, None)."""
        verb = path[0]
        args = [p for p in pos if isinstance(p, Word)]
        if verb in ("exec", "logs", "port-forward", "attach", "cp"):
            if args and args[0].static and "/" in args[0].val:
                t = args[0].val.split("/", 1)[0]
                return TYPES.get(t, (None,))[0], 1
            return "Pod", 1
        if verb not in ("get", "wait", "delete", "describe", "annotate", "label", "patch", "scale", "rollout",
                        "edit", "set", "autoscale", "expose"):
            return None, None
        if not args:
            return None, None
        first = args[0]
        if not first.static:
            return None, None
        if "/" in first.val:
            t = first.val.split("/", 1)[0]
            return TYPES.get(t, (None,))[0], len(args)
        names = [a for a in args[1:] if not (verb in ("annotate", "label") and "=" in a.val or a.val.endswith("-"))]
        return TYPES.get(first.val.split(",")[0], (None,))[0], len(names)

    def check_types(self, path, pos, where, problems):
        verb = path[0]
        args = [p for p in pos if isinstance(p, Word)]
        if verb in ("get", "wait", "delete", "describe", "annotate", "label", "patch", "scale", "rollout") and args:
            first = args[0]
            if not first.static:
                return
            if verb == "rollout" and len(path) == 1:
                return
            typed = [a for a in args if a.static and "/" in a.val] if "/" in first.val else [first]
            for a in typed:
                types = a.val.split("/", 1)[0].split(",") if "/" in a.val else a.val.split(",")
                for t in types:
                    if t not in TYPES:
                        problems.append(f"{where(a)}: no resource type {t!r} on the cluster (known: built-ins, the lab's CRDs)")
                    elif verb == "rollout" and not TYPES[t][1]:
                        problems.append(f"{where(a)}: kubectl rollout does not work on {t} (deployments, daemonsets, statefulsets)")
            if verb == "scale" and first.val.split("/", 1)[0] in TYPES:
                kind = TYPES[first.val.split("/", 1)[0]][0]
                if kind not in ("Deployment", "StatefulSet", "ReplicaSet", "Job"):
                    problems.append(f"{where(first)}: kubectl scale does not work on {kind}")
        if verb in ("exec", "logs") and args and args[0].static and "/" in args[0].val:
            t = args[0].val.split("/", 1)[0]
            if t not in TYPES:
                problems.append(f"{where(args[0])}: no resource type {t!r}")

    def check_values(self, path, pos, values, where, words, problems, unknown_rest):
        verb = path[0]
        kind, nnames = self.target(path, pos)
        is_list = nnames == 0 if nnames is not None else False
        if verb == "get" and "raw" in values:
            kind = None
        self.check_types(path, pos, where, problems)
        spec = self.kh.command(path)
        table = dict(self.kh.globals, **spec[0])

        for w in values.get("output", []):
            fmt, _, expr = w.val.partition("=")
            desc = table.get("output", (None, None, ""))[2]
            allowed = set(re.findall(r"[a-z][a-z-]*", desc.split("One of", 1)[1].split(".")[0])) if "One of" in desc else set()
            allowed.discard("or")
            if DYN in fmt:
                continue
            if allowed and fmt not in allowed:
                problems.append(f"{where(w)}: -o {fmt} is no output format of kubectl {' '.join(path)} ({', '.join(sorted(allowed))})")
                continue
            if fmt in ("jsonpath", "jsonpath-as-json", "go-template", "template", "custom-columns") and expr:
                if kind is None:
                    if verb not in ("version",):
                        problems.append(f"{where(w)}: cannot tell what kind of object -o {fmt} reads")
                    continue
                e = placeholder(expr)
                if fmt == "custom-columns":
                    for col in e.split(","):
                        _, _, fld = col.partition(":")
                        err = self.evaluate(kind, False, "jsonpath", "{" + fld + "}")
                        if err:
                            problems.append(f"{where(w)}: custom column {col!r} on a {kind}: {err}")
                    continue
                f2 = "go-template" if fmt == "template" else ("jsonpath" if fmt == "jsonpath-as-json" else fmt)
                err = self.evaluate(kind, is_list, f2, e)
                if err:
                    problems.append(f"{where(w)}: -o {fmt} on {'a List of ' if is_list else 'a '}{kind}: {err}")
        for w in values.get("sort-by", []):
            if kind and not w.multi:
                fld = placeholder(w.val)
                fld = fld if fld.startswith("{") else "{" + fld + "}"
                err = self.evaluate(kind, False, "jsonpath", fld)
                if err:
                    problems.append(f"{where(w)}: --sort-by on a {kind}: {err}")
        for w in values.get("dry-run", []):
            if w.static and w.val not in ("none", "client", "server"):
                problems.append(f"{where(w)}: --dry-run={w.val} (none, client or server)")
        if verb == "patch":
            for w in values.get("type", []):
                if w.static and w.val not in ("json", "merge", "strategic"):
                    problems.append(f"{where(w)}: patch --type {w.val} (json, merge or strategic)")
        for name in ("timeout", "request-timeout", "pod-running-timeout"):
            for w in values.get(name, []):
                if w.static and not (DURATION.match(w.val) or (name == "request-timeout" and w.val == "0")):
                    problems.append(f"{where(w)}: --{name}={w.val} is no duration kubectl takes (a unit is needed: 300s, 5m)")
        for w in values.get("for", []):
            self.check_for(w, kind, where, problems)
        ns = None
        for w in values.get("namespace", []):
            ns = "lab" if w.raw == '"$NS"' or w.val == "relaylab" else w.val
        for w in values.get("selector", []):
            self.check_selector(w, ns, where, problems)
        if verb in ("exec", "logs", "attach", "cp") and self.containers is not None:
            for w in values.get("container", []):
                if w.static and w.val not in self.containers:
                    problems.append(f"{where(w)}: -c {w.val}: no container of that name in the rendered manifests")
        if verb == "rollout" and len(path) == 1 and not unknown_rest:
            problems.append(f"{where(words[0])}: kubectl rollout without a subcommand")
        if verb == "exec" and not any(p[0] == "--" for p in pos if isinstance(p, tuple)) and not unknown_rest:
            problems.append(f"{where(words[0])}: kubectl exec without `--` before the command")

    def check_for(self, w, kind, where, problems):
        v = w.val
        if DYN in v.split("=", 1)[0]:
            return
        low = v.lower()
        if low == "delete":
            return
        if low == "create":
            problems.append(f"{where(w)}: --for=create is kubectl 1.31+ (docs/kind.md accepts 1.27)")
            return
        if low.startswith("condition="):
            rest = v[len("condition="):]
            name, _, val = rest.partition("=")
            if not name:
                problems.append(f"{where(w)}: --for=condition= names no condition")
                return
            if val and DYN not in val and val.lower() not in ("true", "false", "unknown"):
                problems.append(f"{where(w)}: --for=condition={name}={val}: a condition's status is True, False or Unknown")
            if kind and DYN not in name:
                known = CONDITIONS.get(kind)
                if not known:
                    problems.append(f"{where(w)}: a {kind} has no status.conditions: the wait for {name} never ends")
                elif name.lower() not in {c.lower() for c in known}:
                    problems.append(f"{where(w)}: a {kind} never has condition {name!r} ({', '.join(sorted(known))}): the wait never ends")
            return
        if low.startswith("jsonpath="):
            rest = v[len("jsonpath="):]
            m = re.match(r"^(\{.*\})(=(.*))?$", rest)
            if not m:
                problems.append(f"{where(w)}: --for=jsonpath= needs '{{EXPR}}'=VALUE")
                return
            if m.group(2) is None:
                problems.append(f"{where(w)}: --for=jsonpath='{{...}}' without =VALUE is kubectl 1.31+ (docs/kind.md accepts 1.27)")
            if kind:
                err = self.evaluate(kind, False, "jsonpath", placeholder(m.group(1)))
                if err:
                    problems.append(f"{where(w)}: --for=jsonpath on a {kind}: {err}")
            return
        problems.append(f"{where(w)}: --for={v}: not delete, condition=NAME or jsonpath=EXPR=VALUE")

    def check_selector(self, w, ns, where, problems):
        if w.multi:
            return
        sel = placeholder(w.val)
        for req in re.split(r",(?![^()]*\))", sel):
            req = req.strip()
            m = re.match(r"^(!?)([^=!\s()]+)\s*(?:(==|=|!=)\s*(\S*)|\s+(in|notin)\s+\(([^)]*)\))?$", req)
            if not m:
                problems.append(f"{where(w)}: label selector {w.val!r}: cannot parse {req!r}")
                continue
            key, op, val = m.group(2), m.group(3), m.group(4)
            if not SELECTOR_KEY.match(key):
                problems.append(f"{where(w)}: label selector key {key!r} is no label key")
            if op and not SELECTOR_VAL.match(val or ""):
                problems.append(f"{where(w)}: label selector value {val!r} is no label value")
            # In the lab's own namespace the labels are the rendered manifests' (a value
            # filled in at run time is not checked: loadgen-job's run label, pods_of's name).
            if ns == "lab" and self.labels is not None and op in ("=", "==") and DYN not in w.val:
                if (key, val) not in self.labels:
                    problems.append(f"{where(w)}: no object of the rendered manifests has the label {key}={val}")

    # -- docker

    def check_docker(self, words, where, problems):
        self.seen["docker"] += 1
        dh = self.dh
        args = words[1:]
        i = 0
        while i < len(args) and args[i].val.startswith("-"):
            name = args[i].val.lstrip("-").split("=")[0]
            long_ = {k for k in dh.globals} | {s for s, _, _ in dh.globals.values() if s}
            if name not in long_:
                problems.append(f"{where(args[i])}: {args[i].val} is no global docker option")
            i += 1
        if i >= len(args) or not args[i].static:
            return
        path = [args[i].val]
        if path[0] not in dh.commands:
            spec = dh.command(path)
            if spec is None:
                self.unknown_docker.add(path[0])
                return
        spec = dh.command(path)
        if spec is None:
            problems.append(f"{where(args[i])}: docker has no command {path[0]!r}")
            return
        i += 1
        if spec[1] and i < len(args) and args[i].static and not args[i].val.startswith("-"):
            if args[i].val not in spec[1]:
                problems.append(f"{where(args[i])}: docker {path[0]} has no subcommand {args[i].val!r}")
                return
            path.append(args[i].val)
            spec = dh.command(path)
            i += 1
        if spec is None:
            return
        flags = spec[0]
        # exec and run take their own flags only before the container: the rest is its command.
        self.check_flags(args, i, {n: t for n, (_, t, _) in flags.items()},
                         {sh: t for sh, t, _ in flags.values() if sh}, f"docker {' '.join(path)}",
                         where, problems, stop_at_positional=path[-1] in ("exec", "run"))

    @staticmethod
    def check_flags(args, i, takes, shorts, label, where, problems, stop_at_positional=False):
        """args[i:] as LABEL's flags: every --long one of takes and every -x (combined ones too)
        of shorts, both {name: whether it takes a value}; a flag's value is stepped over."""
        while i < len(args):
            w = args[i]
            v = w.val
            if w.multi:
                i += 1
                continue
            if v == "--":
                break
            if v.startswith("--") and len(v) > 2:
                name, eq, _ = v[2:].partition("=")
                if name not in takes:
                    problems.append(f"{where(w)}: --{name} is no flag of {label}")
                elif takes[name] and not eq:
                    i += 1
            elif v.startswith("-") and len(v) > 1:
                for k, ch in enumerate(v[1:]):
                    if ch not in shorts:
                        problems.append(f"{where(w)}: -{ch} is no flag of {label}")
                        break
                    if shorts[ch]:
                        if k == len(v) - 2:
                            i += 1
                        break
            elif stop_at_positional:
                break
            i += 1

    def check_kind(self, words, where, problems):
        self.seen["kind"] += 1
        args = words[1:]
        path = []
        i = 0
        while i < len(args) and len(path) < 2:
            w = args[i]
            if w.multi:
                return  # kind ${args[@]}: the array is not followed
            if w.val.startswith("-"):
                name = w.val.lstrip("-").split("=")[0]
                g = {k: v for k, v in KIND_GLOBAL.items()}
                if name not in g and name not in {s for s, _ in g.values() if s}:
                    problems.append(f"{where(w)}: {w.val} is no global kind flag")
                i += 1
                continue
            path.append(w.val)
            i += 1
            if tuple(path) in KIND_COMMANDS:
                break
        flags = KIND_COMMANDS.get(tuple(path))
        if flags is None:
            problems.append(f"{where(words[0])}: kind has no command {' '.join(path)!r} (kind v0.24)")
            return
        table = dict(KIND_GLOBAL, **flags)
        self.check_flags(args, i, {n: t for n, (_, t) in table.items()},
                         {sh: t for sh, t in table.values() if sh}, f"kind {' '.join(path)} (kind v0.24)",
                         where, problems)

    # -- a script

    def check_script(self, rel, wrappers, runners, script):
        problems = []

        def where(w):
            origin = getattr(w, "origin", None)
            return f"{os.path.relpath(origin, self.root) if origin else rel}:{w.line}"

        for words, func in script.commands:
            ws = strip_command(words, runners)
            if not ws:
                continue
            head = ws[0].raw
            if os.environ.get("CHECK_CLI_DEBUG") and head in ("kubectl", "docker", *wrappers):
                print(f"    call {where(ws[0])}: {' '.join(w.raw for w in ws)}", file=sys.stderr)
            if head in wrappers and func not in wrappers:
                self.check_kubectl(wrappers[head] + ws[1:], where, problems)
            elif head == "kubectl" and func not in wrappers:
                self.check_kubectl(ws[1:], where, problems)
            elif head == "docker" and self.dh:
                self.check_docker(ws, where, problems)
            elif head == "kind":
                self.check_kind(ws, where, problems)
        return list(dict.fromkeys(problems))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--rendered", help="the rendered overlays (kubectl kustomize), for container and label names")
    ap.add_argument("--script", action="append", help="check these files instead of kind-cluster/*")
    a = ap.parse_args()
    root = a.root
    kubectl = os.environ.get("KUBECTL", "kubectl")
    docker = os.environ.get("DOCKER", "docker")
    try:
        if run(["sh", "-c", f"command -v {kubectl}"]).returncode != 0:
            print("SKIP: kubectl calls (no kubectl on PATH)")
            return 0
        have_docker = run(["sh", "-c", f"command -v {docker}"]).returncode == 0
        old_docker = None
        if have_docker:
            # The scripts are written for Docker 28+ (docker save --platform, with a fallback
            # for older ones): an older client's --help would call that flag wrong.
            m = re.search(r"version (\d+)\.", run([docker, "--version"]).stdout)
            if m and int(m.group(1)) < 28:
                old_docker = m.group(0)
                have_docker = False
        c = Checker(root, kubectl, docker if have_docker else None, a.rendered)
        c.unknown_docker = set()
        if a.script:
            files = a.script
        else:
            files = sorted(p for p in glob.glob(os.path.join(root, "kind-cluster", "*"))
                           if os.path.isfile(p) and (os.access(p, os.X_OK) or p.endswith(".sh")))
        scripts = {}
        for p in files:
            with open(p, encoding="utf-8") as f:
                scripts[os.path.relpath(p, root)] = Script(p, f.read())
        # lib.sh's wrappers serve every script that sources it.
        lib = os.path.join(root, "kind-cluster", "lib.sh")
        lib_script = scripts.get("kind-cluster/lib.sh")
        if lib_script is None and os.path.exists(lib):
            with open(lib, encoding="utf-8") as f:
                lib_script = Script(lib, f.read())
        wrappers, runners = find_wrappers(list(scripts.values()) + ([lib_script] if lib_script else []))
        if not wrappers:
            print("FAIL: kubectl calls: no kubectl wrapper found in kind-cluster/lib.sh (k, kn)")
        # The workflow's run: steps are scripts too (GitHub's ${{ }} is a value from outside).
        for wf in ([] if a.script else sorted(glob.glob(os.path.join(root, ".github", "workflows", "*.yml")))):
            with open(wf, encoding="utf-8") as f:
                text = f.read()
            doc = yaml.safe_load(text) or {}
            for job, spec in (doc.get("jobs") or {}).items():
                for step in spec.get("steps") or []:
                    body = step.get("run")
                    if not body:
                        continue
                    first = body.splitlines()[0]
                    line = next((k + 1 for k, ln in enumerate(text.splitlines()) if first.strip() and first.strip() in ln), 1)
                    body = re.sub(r"\$\{\{[^}]*\}\}", "$GITHUB_VALUE", body)
                    key = f"{os.path.relpath(wf, root)}"
                    sc = Script(wf, body, line)
                    if key in scripts:
                        scripts[key].commands.extend(sc.commands)
                    else:
                        scripts[key] = sc
        for rel, s in scripts.items():
            before = dict(c.seen)
            problems = c.check_script(rel, wrappers, runners, s)
            n_k = c.seen["kubectl"] - before["kubectl"]
            n_d = c.seen["docker"] - before["docker"]
            n_i = c.seen["kind"] - before["kind"]
            if n_k == 0 and n_d == 0 and n_i == 0:
                continue
            name = f"CLI calls: {rel} ({n_k} kubectl, {n_d} docker, {n_i} kind) exist with those flags and values"
            if problems:
                print(f"FAIL: {name}")
                for p in problems:
                    print(f"    {p}")
            else:
                print(f"PASS: {name}")
        ver = run([kubectl, "version", "--client", "-o", "json"]).stdout
        try:
            kv = json.loads(ver)["clientVersion"]["gitVersion"]
        except (ValueError, KeyError):
            kv = "?"
        print(f"PASS: CLI calls: {c.seen['kubectl']} kubectl calls (through {', '.join(sorted(wrappers))}) "
              f"checked against kubectl {kv}'s --help")
        if old_docker:
            print(f"SKIP: CLI calls: docker flags (docker client {old_docker}x is older than the 28 the scripts are written for)")
        elif not have_docker:
            print("SKIP: CLI calls: docker flags (no docker client on PATH)")
        elif c.unknown_docker:
            print(f"SKIP: CLI calls: docker {', '.join(sorted(c.unknown_docker))} (plugin not installed here)")
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 - a crash is a FAIL line, not a traceback
        print("FAIL: check_cli.py crashed: " + traceback.format_exc().replace("\n", " | "))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
