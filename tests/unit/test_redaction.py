"""The redaction rules on plain data: every rule, where it is recorded, and what it leaves."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from globalnet_doctor.redact import REDACTED, Redactions, scrub, scrub_text

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
# A PEM block whose base64 has a "/" at least every 40 characters: escaped as \/ inside JSON
# text, no base64 run is left whole until the text is decoded.
SLASHED_PEM = base64.b64encode(
    b"-----BEGIN PRIVATE KEY-----\n"
    + b"\xff\xff\xffMIIEvQIBADANBgk" * 4
    + b"\xff\xff\xff\n-----END PRIVATE KEY-----"
).decode()
SLASHED_PEM_PART = "01JSUV2UUlCQURBTkJna"


def scrubbed(value: object) -> tuple[Any, list[tuple[str, str]]]:
    log = Redactions()
    cleaned = scrub(value, "member.json", log)
    return cleaned, [(entry["where"], entry["rule"]) for entry in log.entries]


def test_values_under_secret_keys_are_redacted_where_they_are() -> None:
    cleaned, entries = scrubbed(
        {"spec": {"ceIPSecPSK": "c2VjcmV0", "tls.key": "x", "password": "p"}, "key": "app"}
    )
    assert cleaned == {
        "spec": {"ceIPSecPSK": REDACTED, "tls.key": REDACTED, "password": REDACTED},
        "key": "app",
    }
    assert sorted(entries) == [
        ("$.spec.ceIPSecPSK", "secret-key"),
        ("$.spec.password", "secret-key"),
        ("$.spec.tls.key", "secret-key"),
    ]


def test_a_secret_named_env_var_loses_its_value_and_the_path_names_the_item() -> None:
    cleaned, entries = scrubbed(
        {"env": [{"name": "HOME", "value": "/"}, {"name": "API_TOKEN", "value": "t"}]}
    )
    assert cleaned == {
        "env": [{"name": "HOME", "value": "/"}, {"name": "API_TOKEN", "value": REDACTED}]
    }
    assert entries == [("$.env[1].value", "secret-named-value")]


def test_jwts_pem_blocks_and_base64_hiding_them_are_replaced_inside_text() -> None:
    hidden_pem = base64.b64encode(PEM.encode()).decode()
    cleaned, entries = scrubbed(
        {"data": {"short": JWT, "note": f"see {PEM} here", "ca": hidden_pem}}
    )
    text = json.dumps(cleaned)
    assert JWT not in text
    assert "MIIEvQ" not in text
    assert hidden_pem not in text
    assert sorted(entries) == [
        ("$.data.ca", "base64-secret"),
        ("$.data.note", "pem-block"),
        ("$.data.short", "jwt"),
    ]


def test_xfrm_keys_are_redacted_but_the_algorithm_is_kept() -> None:
    log = Redactions()
    text = (
        "src 1.1.1.1 dst 2.2.2.2\n"
        "\taead rfc4106(gcm(aes)) 0xdeadbeefcafe 128\n"
        "\tenc cbc(aes) 0x0102\n"
    )
    cleaned = scrub_text(text, "host/ip-xfrm-state.txt", "$", log)
    assert "0xdeadbeefcafe" not in cleaned
    assert "0x0102" not in cleaned
    assert "rfc4106(gcm(aes))" in cleaned
    assert [e["rule"] for e in log.entries] == ["xfrm-key"]


def test_last_applied_annotations_are_scrubbed_as_the_json_they_hold() -> None:
    embedded = json.dumps({"spec": {"password": "hunter2", "port": 80}})
    cleaned, entries = scrubbed(
        {
            "metadata": {
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": embedded}
            }
        }
    )
    annotation = cleaned["metadata"]["annotations"][
        "kubectl.kubernetes.io/last-applied-configuration"
    ]
    assert json.loads(annotation) == {"spec": {"password": REDACTED, "port": 80}}
    assert entries == [
        (
            "$.metadata.annotations.kubectl.kubernetes.io/last-applied-configuration.spec.password",
            "secret-key",
        )
    ]


def test_ordinary_objects_pass_through_unchanged_and_unlogged() -> None:
    service = {
        "metadata": {
            "name": "svc-1",
            "labels": {"app": "a"},
            "uid": "0b6f6c1e-5a9a-4c1e-9d1e-1234567890ab",
        },
        "spec": {
            "clusterIP": "10.96.0.10",
            "ports": [{"port": 53, "protocol": "UDP"}],
            "externalIPs": ["242.0.0.5"],
        },
        "status": {"conditions": [{"type": "Ready", "status": "True", "message": "x" * 80}]},
        "flag": True,
        "count": 3,
    }
    cleaned, entries = scrubbed(service)
    assert cleaned == service
    assert entries == []


def test_in_a_list_of_objects_only_the_ones_holding_secrets_change() -> None:
    clean = {"kind": "Service", "metadata": {"name": "svc-1"}, "spec": {"ports": [{"port": 80}]}}
    holding = {"kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"apiToken": "t0k"}}
    hidden = {"kind": "ConfigMap", "metadata": {"name": "ca"}, "data": {"ca.crt": PEM}}
    cleaned, entries = scrubbed({"objects": [clean, holding, hidden]})
    assert cleaned["objects"][0] == clean
    assert cleaned["objects"][1]["data"] == {"apiToken": REDACTED}
    assert cleaned["objects"][2]["data"] == {"ca.crt": REDACTED}
    assert entries == [
        ("$.objects[1].data.apiToken", "secret-key"),
        ("$.objects[2].data.ca.crt", "pem-block"),
    ]


@pytest.mark.parametrize(
    "item",
    [
        # JSON escapes inside an embedded last-applied configuration.
        {
            "metadata": {
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": (
                        '{"p\\u0061ssword": "hunter2"}'
                    )
                }
            }
        },
        # An escaped slash inside embedded JSON, which joins a base64 run once decoded.
        {
            "metadata": {
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
                        {"data": {"ca": SLASHED_PEM}}
                    ).replace("/", "\\/")
                }
            }
        },
        # Keys that case-fold to a secret's name only once decoded.
        {"api\u212aey": "hunter2"},
        {"\u017fecret": "hunter2"},
        {"name": "API_\u212aEY", "value": "hunter2"},
    ],
)
def test_objects_in_a_list_are_judged_as_decoded_not_as_escaped_text(item: Any) -> None:
    cleaned, entries = scrubbed([item])
    text = json.dumps(cleaned)
    assert "hunter2" not in text
    assert SLASHED_PEM_PART not in text
    assert entries
