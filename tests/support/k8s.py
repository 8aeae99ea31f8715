"""The Kubernetes manifests as the cluster would see them: rendered with `kubectl kustomize`, checked against the
API schemas offline, and a rendered container turned into a local process (its command, its environment, its
mounted ConfigMaps and Secrets as files)."""
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import yaml

from support import ROOT

OVERLAYS = ROOT / "deploy" / "k8s" / "overlays"
# The Kubernetes release the manifests are written for (kubernetes-validate ships its schemas).
KUBERNETES_VERSION = "1.33.0"
# Objects of the core API groups; the rest (ServiceMonitor, RabbitmqCluster, Cluster, ScaledObject, Shovel …)
# belong to operators whose CRDs are not part of these schemas.
CORE_GROUPS = ("v1", "apps/v1", "batch/v1", "policy/v1", "networking.k8s.io/v1", "autoscaling/v2",
               "rbac.authorization.k8s.io/v1")


def kubectl() -> str:
    """The kubectl `make test` found or installed (.venv/bin when the machine had none with kustomize v5)."""
    beside_python = Path(sys.executable).parent / "kubectl"
    found = str(beside_python) if beside_python.exists() else shutil.which("kubectl")
    assert found, "kubectl (with kustomize v5) is needed to render the overlays: run `make test` to install it"
    return found


def render(overlay: Path) -> list[dict]:
    result = subprocess.run([kubectl(), "kustomize", str(overlay)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def schema_errors(objects: list[dict]) -> list[str]:
    """Every core object checked strictly (unknown fields are errors) against the Kubernetes schemas."""
    errors = []
    for obj in objects:
        if obj["apiVersion"] not in CORE_GROUPS:
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message} at {list(exc.path)}")
    return errors


def find(objects, kind, name_prefix):
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"].startswith(name_prefix))


class LocalPod:
    """A rendered pod template's first container as a local process.

    ConfigMap and Secret volumes become folders of files under ``root`` and emptyDirs empty folders; an
    environment value naming a mount path is rewritten to the local folder. ``secrets`` stands in for the
    Secrets the street creates: ``{secret name: {key: value}}``.
    """

    def __init__(self, objects: list[dict], workload: dict, secrets: dict, root: Path):
        self.spec = workload["spec"]["template"]["spec"]
        self.container = self.spec["containers"][0]
        self.objects, self.secrets, self.root = objects, secrets, root
        self.mounts = self._materialise_volumes()

    @property
    def command(self) -> list[str]:
        program, *args = self.container["command"] + self.container.get("args", [])
        return [str(Path(sys.executable).parent / program), *args]

    def environment(self, **overrides) -> dict:
        env = {}
        for source in self.container.get("envFrom", []):
            env.update(self._config_map(source["configMapRef"]["name"]).get("data", {}))
        for var in self.container.get("env", []):
            if "value" in var:
                env[var["name"]] = var["value"]
            else:
                ref = var["valueFrom"]["secretKeyRef"]
                env[var["name"]] = self.secrets[ref["name"]][ref["key"]]
        for name, value in env.items():
            for mount_path, local in self.mounts.items():
                if value == mount_path or value.startswith(mount_path + "/"):
                    env[name] = str(local) + value[len(mount_path):]
        return {**env, **overrides}

    def port(self, name: str) -> int:
        return next(p["containerPort"] for p in self.container["ports"] if p["name"] == name)

    def _config_map(self, name: str) -> dict:
        return next(o for o in self.objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == name)

    def _materialise_volumes(self) -> dict[str, Path]:
        volumes = {v["name"]: v for v in self.spec.get("volumes", [])}
        mounts = {}
        for mount in self.container.get("volumeMounts", []):
            volume = volumes[mount["name"]]
            local = self.root / mount["name"]
            local.mkdir(parents=True, exist_ok=True)
            if "configMap" in volume:
                files = self._config_map(volume["configMap"]["name"]).get("data", {})
            elif "secret" in volume:
                files = self.secrets[volume["secret"]["secretName"]]
            else:
                files = {}  # emptyDir
            for filename, content in files.items():
                (local / filename).write_text(content, "utf-8")
            mounts[mount["mountPath"]] = local
        return mounts
