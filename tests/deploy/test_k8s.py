"""The Kubernetes manifests render and validate offline; the check catches broken ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mims_stack.k8s_check import check

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not (shutil.which("kubectl") or shutil.which("kustomize")),
    reason="kubectl or kustomize is needed to render kustomizations",
)


def test_the_manifests_are_valid() -> None:
    assert check(ROOT / "deploy/k8s") == []


def test_the_check_fails_on_broken_manifests(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: [app.yaml]\n")
    (tmp_path / "app.yaml").write_text(
        """apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicaz: 2
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
        - name: app
          image: app
"""
    )
    problems = check(tmp_path)
    assert any("replicaz" in p for p in problems)
    assert any("runAsNonRoot" in p for p in problems)
    assert any("probes are required" in p for p in problems)
    assert any("requests and limits" in p for p in problems)
