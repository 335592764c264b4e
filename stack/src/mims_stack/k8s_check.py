"""``make k8s-check``: render every kustomization under a folder and validate it offline.

Rendering uses ``kubectl kustomize`` (or ``kustomize build``); validation uses
kubernetes-validate with ``--strict`` against the Kubernetes schemas it ships, so no cluster
and no network are needed. Beyond the schemas, every Deployment must have liveness and
readiness probes, resource requests and limits, and run as non-root.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

KUBERNETES_VERSION = "1.33.0"


def render(folder: Path) -> str:
    if shutil.which("kubectl"):
        cmd = ["kubectl", "kustomize", str(folder)]
    elif shutil.which("kustomize"):
        cmd = ["kustomize", "build", str(folder)]
    else:
        raise RuntimeError("Neither kubectl nor kustomize is installed; one is needed to render")
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def policy_problems(doc: dict[str, Any]) -> list[str]:
    """What our own rules say about one rendered object."""
    if doc.get("kind") not in ("Deployment", "StatefulSet"):
        return []
    name = f"{doc['kind']}/{doc['metadata']['name']}"
    spec = doc["spec"]["template"]["spec"]
    problems = []
    if not spec.get("securityContext", {}).get("runAsNonRoot"):
        problems.append(f"{name}: pod does not set runAsNonRoot")
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        res = c.get("resources", {})
        if not res.get("requests") or not res.get("limits"):
            problems.append(f"{name}/{c['name']}: resource requests and limits are required")
        if c.get("securityContext", {}).get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}/{c['name']}: allowPrivilegeEscalation must be false")
    for c in spec.get("containers", []):
        if "livenessProbe" not in c or "readinessProbe" not in c:
            problems.append(f"{name}/{c['name']}: liveness and readiness probes are required")
    return problems


def check(folder: Path) -> list[str]:
    kustomizations = sorted(p.parent for p in folder.rglob("kustomization.yaml"))
    if not kustomizations:
        return [f"no kustomization.yaml under {folder}"]
    problems: list[str] = []
    for k in kustomizations:
        docs = [d for d in yaml.safe_load_all(render(k)) if d]
        if not docs:
            problems.append(f"{k}: renders nothing")
        for doc in docs:
            ident = f"{k}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
            try:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as exc:
                problems.append(f"{ident}: {exc.message}")
            problems.extend(f"{k}: {p}" for p in policy_problems(doc))
        print(f"{k}: {len(docs)} objects rendered and validated")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    folder = Path(args[0] if args else "deploy/k8s")
    problems = check(folder)
    for p in problems:
        print(f"  FAIL {p}")
    print("k8s-check: " + ("ok" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
