"""Text from a cluster or a bundle never reaches the terminal raw (ESC, BEL, CR/LF and other
control characters are escaped), and JUnit stays XML any consumer can parse."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

import pytest
from gdoctor_run import gdoctor

from globalnet_doctor.bundle import BundleWriter, read_bundle
from globalnet_doctor.terminal import printable, xml_safe

DEMO = Path(str(files("globalnet_doctor") / "demo" / "field-report.tar.gz"))
HOSTILE = 'ping "242.1.255.254"\x1b[2J\x1b]0;owned\x07\r\nGD999 member9 fake pass row\x00'
_WRITER_KEYS = {"formatVersion", "gdoctorVersion", "collectedAt", "members", "skipped"}


def hostile_bundle(path: Path) -> Path:
    """The demo bundle with a Gateway connection status message full of control characters."""
    original = read_bundle(DEMO)
    writer = BundleWriter()
    writer.members = dict(original.members)
    writer.skipped = list(original.manifest["skipped"])
    name = next(m for m in writer.members if m.startswith("clusters/member1/reads/gateways."))
    entry = json.loads(writer.members[name])
    for gateway in entry["answer"]["objects"]:
        for connection in gateway.get("status", {}).get("connections", []):
            connection["statusMessage"] = HOSTILE
    writer.members[name] = json.dumps(entry).encode()
    extra = {k: v for k, v in original.manifest.items() if k not in _WRITER_KEYS}
    writer.write(path, datetime.now(UTC), extra)
    return path


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_bundle(tmp_path_factory.mktemp("hostile") / "b.tar.gz")


def test_the_table_escapes_control_characters_and_adds_no_line(bundle: Path) -> None:
    run = gdoctor("check", "--all", "--bundle", str(bundle), "-v")
    assert run.code == 1, run.stderr
    for raw in ("\x1b", "\x07", "\r", "\x00"):
        assert raw not in run.stdout
        assert raw not in run.stderr
    assert "\\x1b[2J" in run.stdout
    assert not any(line.startswith("GD999") for line in run.stdout.splitlines())


def test_junit_parses_as_xml_and_sarif_and_json_as_json(bundle: Path) -> None:
    junit = gdoctor("check", "--all", "--bundle", str(bundle), "-o", "junit")
    root = ET.fromstring(junit.stdout.split("\n", 1)[1])
    assert any("\\x1b" in (f.get("message") or "") for f in root.iter("failure"))
    sarif = gdoctor("check", "--all", "--bundle", str(bundle), "-o", "sarif")
    json.loads(sarif.stdout)
    report = gdoctor("check", "--all", "--bundle", str(bundle), "-o", "json").json()
    messages = [f["message"] for r in report["results"] for f in r["findings"]]
    assert any(HOSTILE in m for m in messages)  # JSON carries the text itself, escaped by JSON


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain", "plain"),
        ("a\x1bb", "a\\x1bb"),
        ("line\r\nnext", "line\\r\\nnext"),
        ("\u202eevil", "\\u202eevil"),
        ("clusterset ünïcode 集群", "clusterset ünïcode 集群"),
    ],
)
def test_printable_escapes_only_what_is_not_printable(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_xml_safe_keeps_tabs_and_newlines_and_escapes_the_rest() -> None:
    assert xml_safe("a\tb\nc\x1bd\x00\ud800") == "a\tb\nc\\x1bd\\x00\\ud800"
