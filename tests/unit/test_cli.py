"""The command line without any cluster: catalogue, explain, bad input, light imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from gdoctor_run import gdoctor, gdoctor_process

from globalnet_doctor import __version__


def test_version():
    run = gdoctor("--version")
    assert (run.code, run.stdout) == (0, f"gdoctor {__version__}\n")


def test_list_shows_the_catalogue_as_a_table_and_as_json():
    table = gdoctor("list")
    assert table.code == 0
    assert table.stdout.splitlines()[0].split() == [
        "ID",
        "NAME",
        "SEVERITY",
        "KIND",
        "FIX",
        "TITLE",
    ]
    assert "GD101  kube-proxy-ipvs" in table.stdout
    catalogue = {c["id"]: c for c in gdoctor("list", "-o", "json").json()}
    assert catalogue["GD401"]["name"] == "no-gateway-node"
    assert catalogue["GD401"]["fix"] == "GD401"


def test_explain_prints_the_docs_page_by_id_or_name():
    by_id = gdoctor("explain", "gd101")
    assert by_id.code == 0
    assert by_id.stdout.startswith("# GD101 kube-proxy-ipvs\n")
    assert gdoctor("explain", "no-gateway-node").stdout.startswith("# GD401 ")


def test_explain_of_an_unknown_check_is_a_usage_error():
    run = gdoctor("explain", "GD999")
    assert (run.code, run.stderr) == (2, "gdoctor: error: no check 'GD999' (see `gdoctor list`)\n")


@pytest.mark.parametrize(
    "args",
    [["--help"], ["list"], ["explain", "GD101"], ["check", "--help"]],
    ids=["help", "list", "explain", "check-help"],
)
def test_commands_that_need_no_cluster_import_neither_kubernetes_nor_scapy(args):
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['gdoctor', *{args!r}]\n"
        "try:\n"
        "    runpy.run_module('globalnet_doctor', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('kubernetes', 'scapy'))\n"
        "sys.stderr.write(repr(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stderr == "[]"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda t: ["--kubeconfig", str(t / "absent")], "does not exist"),
        (lambda t: ["--kubeconfig", write(t, "k", "{{{")], "is not valid YAML"),
        (lambda t: ["--kubeconfig", write(t, "k", "- a\n- b\n")], "is not a kubeconfig"),
        (
            lambda t: [
                "--kubeconfig",
                write(
                    t,
                    "k",
                    "contexts: [{name: a, context: {cluster: c}}]\n"
                    "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n",
                ),
                "--context",
                "b",
            ],
            "unknown context b (the kubeconfig has: a)",
        ),
        (lambda t: ["--config", write(t, "g.toml", "[site]\nnope = 1\n")], "unknown setting"),
        (lambda t: ["--config", write(t, "g.toml", "[site\n")], "is not valid TOML"),
        (lambda t: ["--select", "GD999"], "no check matches 'GD999'"),
        (lambda t: ["--request-timeout", "nan"], "must be a finite number of seconds"),
        (lambda t: ["--request-timeout", "inf"], "must be a finite number of seconds"),
        (
            lambda t: ["--config", write(t, "g.toml", "[site]\nrequest_timeout = -5\n")],
            "request_timeout (--request-timeout) must be a finite number of seconds",
        ),
        (
            lambda t: ["--config", write(t, "g.toml", "[site]\ncheck_timeout = 0\n")],
            "check_timeout (--check-timeout) must be a finite number",
        ),
        (lambda t: ["--kubeconfig", str(t)], "is a directory, not a file"),
        (lambda t: ["--ignore", "GD*"], "the selection leaves no check to run (--ignore GD*)"),
        (lambda t: ["--select", "GD101", "--ignore", "GD101"], "leaves no check to run"),
    ],
    ids=[
        "missing-kubeconfig",
        "garbage-kubeconfig",
        "not-a-kubeconfig",
        "unknown-context",
        "unknown-setting",
        "bad-toml",
        "unknown-check",
        "request-timeout-nan",
        "request-timeout-inf",
        "request-timeout-negative-in-file",
        "check-timeout-zero-in-file",
        "kubeconfig-directory",
        "everything-ignored",
        "selected-and-ignored",
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, make_args, message):
    run = gdoctor_process("check", *make_args(tmp_path), env={"KUBECONFIG": str(tmp_path / "no")})
    assert run.code == 2
    assert run.stdout == ""
    assert run.stderr.startswith("gdoctor: error: ")
    assert message in run.stderr
    assert len(run.stderr.splitlines()) == 1


@pytest.mark.parametrize("value", ["nan", "inf", "-1s", "soon"])
@pytest.mark.parametrize("flag", ["--wait", "--rollout-timeout"])
def test_fix_durations_must_be_finite_and_not_negative(flag, value):
    """A NaN deadline would poll the apiserver without pause, for ever."""
    run = gdoctor("fix", "GD301", "--dry-run", flag, value)
    assert run.code == 2
    assert run.stderr.startswith(f"gdoctor: error: {flag} takes a ")
    assert len(run.stderr.splitlines()) == 1


def test_naming_checks_and_all_together_is_a_usage_error():
    run = gdoctor("check", "GD101", "--all")
    assert run.code == 2
    assert "not both" in run.stderr


def test_settings_file_values_reach_the_run_and_flags_win(tmp_path):
    from globalnet_doctor.config import load_settings

    path = tmp_path / "gdoctor.toml"
    path.write_text('[site]\nsubmariner-namespace = "sm"\nrequest_timeout = 3\n')
    settings = load_settings(path, {"request_timeout": 7.5, "broker_context": None})
    assert (settings.submariner_namespace, settings.request_timeout) == ("sm", 7.5)


def unreachable_kubeconfig(tmp_path):
    """One context whose server nothing answers on (port 9 of loopback)."""
    return write(
        tmp_path,
        "k",
        "contexts: [{name: lonely, context: {cluster: c, user: u}}]\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: t}}]\n",
    )


def test_unreachable_only_cluster_gives_exit_3_json_and_a_log_file(tmp_path):
    kubeconfig = unreachable_kubeconfig(tmp_path)
    log_file = tmp_path / "gdoctor.log"
    run = gdoctor_process(
        "check", "-o", "json", "--kubeconfig", kubeconfig, "--log-file", str(log_file)
    )
    assert run.code == 3
    report = json.loads(run.stdout)
    assert report["clusters"][0]["reachable"] is False
    assert {r["status"] for r in report["results"] if r["cluster"] != "host"} == {"error"}
    assert "GET https://127.0.0.1:9/version" in log_file.read_text()
    assert "Traceback" not in run.stderr


def test_a_server_that_never_completes_tls_waits_only_the_request_timeout(tmp_path):
    """The handshake's wait is the connect timeout: it must not exceed --request-timeout."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    config = write(
        tmp_path,
        "k",
        "contexts: [{name: silent, context: {cluster: c, user: u}}]\n"
        f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}', "
        "insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: t}}]\n",
    )
    try:
        run = gdoctor(
            "check",
            "GD101",
            "--no-host",
            "-o",
            "json",
            "--kubeconfig",
            config,
            "--request-timeout",
            "0.5",
        )
    finally:
        silent.close()
    assert run.code == 3
    (cluster,) = run.json()["clusters"]
    assert "timeout=0.5" in cluster["error"]


def test_a_bundle_of_no_reachable_cluster_is_written_and_exits_3(tmp_path):
    kubeconfig = unreachable_kubeconfig(tmp_path)
    archive = tmp_path / "b.tar.gz"
    run = gdoctor_process("bundle", "--no-host", "-o", str(archive), "--kubeconfig", kubeconfig)
    assert run.code == 3, run.stderr
    assert archive.is_file()
    assert "no cluster was reachable" in run.stderr


def test_progress_is_one_overwritten_line_on_a_terminal_and_nothing_elsewhere(tmp_path):
    import os
    import pty

    kubeconfig = unreachable_kubeconfig(tmp_path)
    args = [sys.executable, "-m", "globalnet_doctor", "check", "--no-host", "--kubeconfig"]
    master, slave = pty.openpty()
    try:
        done = subprocess.run(
            [*args, kubeconfig], stdout=subprocess.PIPE, stderr=slave, check=False, timeout=60
        )
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    assert done.returncode == 3
    text = seen.decode()
    assert "\r\x1b[Kgdoctor: " in text
    lines = text.replace("\r\n", "\n").split("\n")
    assert not [line for line in lines if line.startswith("gdoctor: running")]
    piped = gdoctor_process("check", "--no-host", "--kubeconfig", kubeconfig)
    assert "\x1b[K" not in piped.stderr
    assert "running" not in piped.stderr
