from __future__ import annotations

from datetime import UTC, datetime

import pytest

from globalnet_doctor import kinds
from globalnet_doctor.kinds import Read, plan_reads, selector_matches
from globalnet_doctor.view import (
    ClusterView,
    InputFailed,
    InputUnavailable,
    ReadAnswer,
    UndeclaredRead,
)


def pod(name: str, namespace: str, **labels: str) -> dict:
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels}}


def view_with(answers: dict[Read, ReadAnswer]) -> ClusterView:
    return ClusterView("c", "https://h", datetime.now(UTC), answers=answers)


def test_a_list_everywhere_answers_namespaced_lists_gets_and_selectors():
    pods = (pod("a", "ns1", app="x"), pod("b", "ns2", app="y"))
    view = view_with({Read(kinds.PODS): ReadAnswer(pods, api_version="v1")})
    assert [p["metadata"]["name"] for p in view.list(kinds.PODS, "ns2")] == ["b"]
    assert [p["metadata"]["name"] for p in view.list(kinds.PODS, None, "app=x")] == ["a"]
    assert view.get(kinds.PODS, "a", "ns1") == pods[0]
    assert view.get(kinds.PODS, "a", "ns2") is None


def test_a_query_nobody_declared_is_refused():
    view = view_with({Read(kinds.PODS, "ns1"): ReadAnswer(())})
    with pytest.raises(UndeclaredRead):
        view.list(kinds.PODS)
    with pytest.raises(UndeclaredRead):
        view.list(kinds.NODES)


def test_unavailable_and_failed_answers_raise_their_reason():
    view = view_with(
        {
            Read(kinds.NODES): ReadAnswer(unavailable="forbidden: list nodes"),
            Read(kinds.PODS): ReadAnswer(failed="list pods: no answer"),
        }
    )
    with pytest.raises(InputUnavailable, match="forbidden: list nodes"):
        view.list(kinds.NODES)
    with pytest.raises(InputFailed, match="no answer"):
        view.get(kinds.PODS, "x", "ns")


def test_plan_reads_drops_reads_a_broader_list_answers():
    everywhere = Read(kinds.CONFIGMAPS)
    one = Read(kinds.CONFIGMAPS, "kube-system", "kube-proxy")
    other_kind = Read(kinds.NODES)
    assert plan_reads([one, everywhere, other_kind, one]) == [everywhere, other_kind]


def test_a_get_needs_a_namespace_for_namespaced_kinds():
    with pytest.raises(ValueError, match="needs a namespace"):
        Read(kinds.PODS, name="x")


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("a=b", {"a": "b"}, True),
        ("a==b,c", {"a": "b", "c": ""}, True),
        ("a!=b", {"a": "b"}, False),
        ("!a", {}, True),
        ("a", {}, False),
    ],
)
def test_equality_selectors(selector, labels, expected):
    assert selector_matches(selector, labels) is expected
