from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from globalnet_doctor.errors import UsageError
from globalnet_doctor.kubeconfig import resolve_targets


def write_kubeconfig(path: Path, contexts: dict[str, str]) -> Path:
    """contexts: name -> server."""
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": f"c-{n}", "cluster": {"server": s}} for n, s in contexts.items()],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": n, "context": {"cluster": f"c-{n}", "user": "u"}} for n in contexts],
    }
    path.write_text(yaml.safe_dump(document))
    return path


def test_every_context_in_file_order_by_default(tmp_path):
    config = write_kubeconfig(
        tmp_path / "k", {"b": "https://127.0.0.1:1", "a": "https://127.0.0.1:2"}
    )
    targets = resolve_targets(str(config), ())
    assert [t.name for t in targets.targets] == ["b", "a"]
    assert targets.warnings == ()


def test_contexts_reaching_the_same_server_are_deduplicated_first_wins(tmp_path):
    config = write_kubeconfig(
        tmp_path / "k",
        {"one": "https://127.0.0.1:1", "two": "https://127.0.0.1:1/", "three": "https://x:3"},
    )
    targets = resolve_targets(str(config), ())
    assert [t.name for t in targets.targets] == ["one", "three"]
    assert targets.warnings == (
        "contexts one and two reach the same server https://127.0.0.1:1; using one",
    )


def test_kubeconfig_env_merges_several_files_first_definition_wins(tmp_path, monkeypatch):
    first = write_kubeconfig(tmp_path / "a", {"m1": "https://127.0.0.1:1"})
    second = write_kubeconfig(
        tmp_path / "b", {"m1": "https://127.0.0.1:9", "m2": "https://127.0.0.1:2"}
    )
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(first), str(second)]))
    targets = resolve_targets(None, ())
    assert [(t.name, t.server) for t in targets.targets] == [
        ("m1", "https://127.0.0.1:1"),
        ("m2", "https://127.0.0.1:2"),
    ]


def test_selected_contexts_keep_the_order_given(tmp_path):
    config = write_kubeconfig(tmp_path / "k", {"a": "https://h:1", "b": "https://h:2"})
    assert [t.name for t in resolve_targets(str(config), ("b", "a")).targets] == ["b", "a"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not yaml: [", "not valid YAML"),
        ("just a string", "is not a kubeconfig"),
        ("kind: Pod\n", "is not a kubeconfig"),
        ("contexts: [{context: {}}]\n", "needs a name"),
    ],
    ids=["broken-yaml", "scalar", "wrong-kind", "nameless-context"],
)
def test_garbage_kubeconfig_is_a_usage_error(tmp_path, content, message):
    path = tmp_path / "k"
    path.write_text(content)
    with pytest.raises(UsageError, match=message):
        resolve_targets(str(path), ())


def test_missing_kubeconfig_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        resolve_targets(str(tmp_path / "absent"), ())


def test_no_kubeconfig_anywhere_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nothing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(UsageError, match="no kubeconfig found"):
        resolve_targets(None, ())


def test_unknown_context_lists_the_known_ones(tmp_path):
    config = write_kubeconfig(tmp_path / "k", {"member1": "https://h:1"})
    with pytest.raises(UsageError, match=r"unknown context nope \(the kubeconfig has: member1\)"):
        resolve_targets(str(config), ("nope",))


def test_in_cluster_uses_the_service_environment(monkeypatch):
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    (target,) = resolve_targets(None, (), in_cluster=True).targets
    assert (target.name, target.server, target.kubeconfig) == (
        "in-cluster",
        "https://10.0.0.1:443",
        None,
    )


def test_a_stale_context_is_skipped_with_a_warning_unless_selected(tmp_path):
    config = write_kubeconfig(tmp_path / "k", {"good": "https://h:1", "stale": ""})
    found = resolve_targets(str(config), ())
    assert [t.name for t in found.targets] == ["good"]
    assert [(s.name, s.reason) for s in found.skipped] == [
        ("stale", "context stale names cluster 'c-stale', which has no server")
    ]
    assert found.warnings == (
        "context stale names cluster 'c-stale', which has no server: skipped",
    )
    with pytest.raises(UsageError, match="context stale names cluster 'c-stale'"):
        resolve_targets(str(config), ("stale",))


def test_a_kubeconfig_of_stale_contexts_only_is_a_usage_error(tmp_path):
    config = write_kubeconfig(tmp_path / "k", {"stale": ""})
    with pytest.raises(UsageError, match="no context of the kubeconfig names a cluster"):
        resolve_targets(str(config), ())


def test_a_directory_given_as_kubeconfig_says_so(tmp_path):
    with pytest.raises(UsageError, match="is a directory, not a file"):
        resolve_targets(str(tmp_path), ())
