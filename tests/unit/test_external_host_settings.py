"""--external-host / --host-cluster and their gdoctor.toml keys: accepted, or a usage error."""

from __future__ import annotations

import pytest
from gdoctor_run import gdoctor

from globalnet_doctor.config import load_settings
from globalnet_doctor.errors import UsageError


def test_the_flags_and_the_file_set_the_external_host_and_its_cluster(tmp_path):
    path = tmp_path / "gdoctor.toml"
    path.write_text('[site]\nexternal_host = "172.16.255.184"\nhost-cluster = "member1"\n')
    settings = load_settings(path, {})
    assert (settings.external_host, settings.host_cluster) == ("172.16.255.184", "member1")
    assert load_settings(path, {"host_cluster": "member2"}).host_cluster == "member2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('external_host = "node"', "external_host must be an IP address, not 'node'"),
        ("external_host = 184", "external_host must be a str"),
    ],
)
def test_a_bad_external_host_in_the_file_is_a_usage_error(tmp_path, text, message):
    path = tmp_path / "gdoctor.toml"
    path.write_text(f"[site]\n{text}\n")
    with pytest.raises(UsageError, match=message):
        load_settings(path, {})


def test_a_bad_external_host_flag_exits_2_before_reading_any_cluster():
    run = gdoctor("check", "GD306", "--external-host", "172.16.255.999", "--config", "/dev/null")
    assert run.code == 2
    assert run.stderr == (
        "gdoctor: error: external_host must be an IP address, not '172.16.255.999'\n"
    )
