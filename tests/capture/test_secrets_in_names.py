"""Secrets where capture records a name rather than a value: workflow, task, loop and custom-task names, roles
(keyword argument names, keys of a returned dict, of ``end_iter`` values, of a custom task's ``used`` and
``generated``, an ``args_handler``'s names, ``item_name``), file paths; and the values of secret command-line
options found again in text. Each runs through the real emitter (both wire versions) and searches every record
sent for the secret, byte for byte."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from _capture_helpers import run_with_emitter

import capture
from capture import _redaction
from capture._redaction import Redactor


def _token(tag: str) -> str:
    return "ghp_" + (tag + "0123456789abcdefghijklmnopqrstuvwxyzABCDEF")[:36]


def _leaks(records: list[dict[str, Any]], secrets: dict[str, str]) -> list[str]:
    text = json.dumps(records)
    return [name for name, secret in secrets.items() if secret in text]


@pytest.mark.parametrize("version", [1, 2])
def test_a_token_in_a_name_or_role_never_reaches_the_stream(tmp_path, version):
    secrets = {
        where: _token(where)
        for where in (
            "Wflow",
            "Subtype",
            "Taskname",
            "Loopname",
            "Batchedname",
            "Customname",
            "Kwarg",
            "Lightkwarg",
            "Outkey",
            "Lightout",
            "Handler",
            "Iterkey",
            "Itemname",
            "Batcheditem",
            "Used",
            "Generated",
            "Path",
        )
    }
    s = secrets

    def workload() -> None:
        @capture.task(name="step " + s["Taskname"])
        def step(**kwargs: Any) -> Any:
            return {s["Outkey"] + "-count": 1, "plain": 2}

        @capture.light_task
        def light(**kwargs: Any) -> Any:
            return {s["Lightout"] + "-n": 3}

        @capture.task(args_handler=lambda x: {"for " + s["Handler"]: x})
        def handled(x: Any) -> None:
            return None

        @capture.task(output_names="written")
        def write(path: Any) -> Any:
            with open(path, "w") as handle:
                handle.write("rows")
            return capture.file(path)

        with capture.Workflow("run " + s["Wflow"], subtype="kind " + s["Subtype"]):
            step(**{"with " + s["Kwarg"]: 1})
            light(**{"with " + s["Lightkwarg"]: 2})
            handled(5)
            loop = capture.Loop([1, 2], loop_name="loop " + s["Loopname"], item_name="for " + s["Itemname"])
            for item in loop:
                loop.end_iter({"key " + s["Iterkey"]: item})
            batched = capture.BatchedLoop(
                [3, 4], loop_name="b " + s["Batchedname"], item_name="b " + s["Batcheditem"]
            )
            for item in batched:
                batched.end_iter(item)
            capture.CustomTask(
                "custom " + s["Customname"],
                used={"in " + s["Used"]: 1},
                generated={"out " + s["Generated"]: 2},
            )
            write(str(tmp_path / f"table-{s['Path']}.csv"))

    records, emitter = run_with_emitter(tmp_path / f"v{version}", version, workload)
    assert emitter.stats()["items_failed"] == 0
    assert _leaks(records, secrets) == []
    text = json.dumps(records)
    assert text.count("[REDACTED:github-token") >= len(secrets)
    # what is around the token stays readable
    for kept in ("run [REDACTED:github-token", "loop [REDACTED:github-token", "-count", "table-[REDACTED:"):
        assert kept in text, kept


def test_a_secret_options_value_is_found_again_in_text():
    redactor = Redactor(
        environ={},
        argv=[
            "--password=hunter2-long",
            "--api-token",
            "tok-123456",
            "--name",
            "alice-smith",
            "-p",
            "short-flag",
        ],
    )
    out = redactor.scrub("connect with hunter2-long and tok-123456 as alice-smith via short-flag")
    assert "hunter2-long" not in out and "tok-123456" not in out
    assert "[REDACTED:password len=12" in out and "[REDACTED:api-token len=10" in out
    assert "alice-smith" in out  # not a secret option
    assert "short-flag" in out  # short flags are not matched by name (docs/security.md)
    assert (
        Redactor(environ={}, argv=["--password", "abc"]).scrub("the word abc stays") == "the word abc stays"
    )


@pytest.mark.parametrize("version", [1, 2])
def test_a_secret_option_of_this_programs_command_line_never_reaches_the_stream(
    tmp_path, monkeypatch, version
):
    secret = "cliPw-" + "q7Zr" * 4
    monkeypatch.setattr(sys, "argv", ["train.py", f"--db-password={secret}", "--epochs", "3"])
    _redaction.active().refresh_environment()  # read again with the environment (at most every half second)

    def workload() -> None:
        @capture.task
        def connect(dsn: str) -> str:
            return "connected " + dsn

        with capture.Workflow("cli"):
            connect(f"host=db user=app pw {secret}")

    records, _ = run_with_emitter(tmp_path / f"v{version}", version, workload)
    assert secret not in json.dumps(records)
    assert "[REDACTED:db-password" in json.dumps(records)


def test_capture_log_lines_about_a_task_hold_no_token(tmp_path, caplog):
    name_token, message_token = _token("Logname"), _token("Logmessage")

    def failing_handler(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("cannot bind with " + message_token)

    def workload() -> None:
        @capture.task(name="step " + name_token, args_handler=failing_handler)
        def step(x: Any) -> Any:
            return x

        with capture.Workflow("logs"):
            step(1)

    with caplog.at_level("WARNING"):
        records, _ = run_with_emitter(tmp_path, 2, workload)
    assert "args_handler of task" in caplog.text
    assert name_token not in caplog.text and message_token not in caplog.text
    assert name_token not in json.dumps(records)
