"""The host options of `gdoctor check`: --host/--no-host, --root, --resolv-conf."""

from __future__ import annotations

from gdoctor_run import gdoctor


def test_check_help_names_the_host_options():
    run = gdoctor("check", "--help")
    for option in ("--host / --no-host", "--root DIRECTORY", "--resolv-conf PATH"):
        assert option in run.stdout


def test_a_root_that_does_not_exist_is_a_usage_error(tmp_path):
    run = gdoctor("check", "--root", str(tmp_path / "absent"), "--kubeconfig", "x")
    assert run.code == 2
    assert "'--root'" in run.stderr
    assert "does not exist" in run.stderr
