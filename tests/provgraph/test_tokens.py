"""Token accounting end to end: a captured run mixing OpenAI, Anthropic, google-genai and LiteLLM responses (the
providers' own response classes, built locally: no network) and `capture.record_llm_call`, loaded through the real
loader, rolled up per run, per task tree and along a lineage path on both backends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from capture import read_buffer
from provgraph.client import Client
from provgraph.errors import QueryError
from provgraph.loader import load_messages
from provgraph.purge import purge, select
from provgraph.tokens import TokenTotals

WORKFLOW = r"""
import sys

import anthropic.types
import litellm
from google.genai import types as genai
from openai.types.chat import ChatCompletion

import capture

token = sys.argv[1]


def openai_reply(text):
    return ChatCompletion.model_validate({
        "id": "c1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    })


def anthropic_reply(text):  # Anthropic reports no total: 7 + 2 cached in, 3 out
    return anthropic.types.Message.model_validate({
        "id": "m1", "type": "message", "role": "assistant", "model": "claude-haiku",
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 7, "output_tokens": 3, "cache_read_input_tokens": 2},
    })


def gemini_reply(text):
    return genai.GenerateContentResponse(
        model_version="gemini-flash",
        candidates=[genai.Candidate(content=genai.Content(role="model", parts=[genai.Part(text=text)]))],
        usage_metadata=genai.GenerateContentResponseUsageMetadata(
            prompt_token_count=11, candidates_token_count=4, total_token_count=15
        ),
    )


def litellm_reply(text):
    reply = litellm.ModelResponse(
        model="mistral-small", usage={"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    )
    reply.choices[0].message.content = text
    reply._hidden_params["response_cost"] = 0.0012
    return reply


@capture.agent_task(agent="writer")
def ask_openai(prompt):
    return openai_reply("draft")


@capture.agent_task(agent="editor")
def ask_claude(prompt):
    return anthropic_reply("edited")


@capture.task(output_names="notes")
def research(question):
    capture.record_llm_call(prompt=question, response=gemini_reply("facts"), cost=0.01)
    capture.record_llm_call(prompt=[{"role": "user", "content": question}], response=litellm_reply("more"))
    return f"notes on {question}"


@capture.task(output_names="answer")
def summarise(notes):
    return ask_claude(ask_openai(notes).choices[0].message.content).content[0].text + " " + token


with capture.Workflow(name=f"tokens_{token}") as run:
    notes = research("why " + token)
    summarise(notes)
    print("run:", run.id)
print("outside:", capture.record_llm_call("local-model", tokens_in=100, tokens_out=20, cost=0.5))
capture.flush()
"""


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The workflow above, run once in a subprocess with the file sink; its messages and ids."""
    import uuid

    token = uuid.uuid4().hex[:12]
    tmp = tmp_path_factory.mktemp("tokens")
    script = tmp / "workflow.py"
    script.write_text(WORKFLOW)
    env = {
        **os.environ,
        "PROVGRAPH_SINK": "file",
        "PROVGRAPH_BUFFER_PATH": str(tmp / "buffer"),
        "PROVGRAPH_HOME": str(tmp / "home"),
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    env.pop("PROVGRAPH_DISABLED", None)
    env.pop("PROVGRAPH_SETTINGS", None)
    done = subprocess.run(
        [sys.executable, str(script), token], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    return {
        "token": token,
        "run": lines["run"],
        "outside": lines["outside"],
        "messages": read_buffer(tmp / "buffer"),
    }


@pytest.fixture
def client(any_backend: Any, captured: dict[str, Any]):
    any_backend.ensure_schema()
    load_messages(any_backend, captured["messages"])
    yield Client(backend=any_backend)
    docs = sorted({message.doc for message in captured["messages"]})
    # purge, not DETACH DELETE: shared nodes (the person, the machine) keep other runs' relationships
    purge(any_backend, select(any_backend, docs=docs))


def _task(client: Client, run: str, name: str) -> str:
    (row,) = client.cypher(
        "MATCH (t:Task)-[:wasStartedBy]->(r:WorkflowRun) WHERE r.id = $run AND t.name = $name RETURN t.id AS id",
        run=run,
        name=name,
    )
    return row["id"]


def _output(client: Client, task: str) -> str:
    (row,) = client.cypher(
        "MATCH (e:Entity)-[:wasGeneratedBy]->(t:Task) WHERE t.id = $task RETURN e.id AS id", task=task
    )
    return row["id"]


def test_roll_up_per_run_over_four_provider_shapes_and_record_llm_call(client, captured):
    run = captured["run"]
    totals = client.token_usage(run)
    # OpenAI 10/5/15, Anthropic 9/3/(12 derived), google-genai 11/4/15, LiteLLM 3/4/7 (+ 0.0012), gemini cost 0.01
    assert (totals.id, totals.calls, totals.tokens_in, totals.tokens_out, totals.tokens_total) == (
        run,
        4,
        33,
        16,
        49,
    )
    assert totals.cost == pytest.approx(0.0112)
    assert totals.models == ("claude-haiku", "gemini-flash", "gpt-4o-mini", "mistral-small")


def test_roll_up_per_task_tree_and_per_step(client, captured):
    run = captured["run"]
    research, summarise = _task(client, run, "research"), _task(client, run, "summarise")
    assert client.token_usage(research) == TokenTotals(
        research, 2, 14, 8, 22, pytest.approx(0.0112), ("gemini-flash", "mistral-small")
    )
    writer = client.token_usage(summarise)
    assert (writer.calls, writer.tokens_in, writer.tokens_out, writer.tokens_total, writer.cost) == (
        2,
        19,
        8,
        27,
        None,
    )
    steps = {(s.name, s.depth): s for s in client.token_usage_by_step(run)}
    assert steps[("summarise", 1)].tokens_total == 27 and steps[("summarise", 1)].own_tokens_total is None
    assert steps[("research", 1)].tokens_total == 22 and steps[("research", 1)].calls == 2
    assert steps[("ask_openai", 2)].own_tokens_total == 15 and steps[("ask_openai", 2)].parent == summarise
    assert steps[("ask_claude", 2)].tokens_total == 12
    assert steps[("llm:gemini-flash", 2)].cost == pytest.approx(0.01)
    ordered = [s.tokens_total for s in client.token_usage_by_step(run)]
    assert ordered == sorted(ordered, reverse=True)


def test_roll_up_along_a_lineage_path(client, captured):
    run = captured["run"]
    answer = _output(client, _task(client, run, "summarise"))
    notes = _output(client, _task(client, run, "research"))
    end_to_end = client.token_usage_lineage(answer)
    assert (end_to_end.activities, end_to_end.calls, end_to_end.tokens_total) == (2, 4, 49)
    assert end_to_end.cost == pytest.approx(0.0112)
    assert client.token_usage_lineage(notes).tokens_total == 22


def test_record_llm_call_outside_any_workflow(client, captured):
    outside = client.token_usage(captured["outside"])
    assert (outside.calls, outside.tokens_in, outside.tokens_out, outside.tokens_total, outside.cost) == (
        1,
        100,
        20,
        120,
        0.5,
    )
    assert outside.models == ("local-model",)
    (row,) = client.cypher(
        "MATCH (a:Activity)-[:wasStartedBy]->(r:WorkflowRun) WHERE a.id = $id RETURN r.subtype AS subtype",
        id=captured["outside"],
    )
    assert row["subtype"] == "implicit"  # the process's default run: nothing recorded outside a run is lost


def test_unknown_scope_is_an_error(client, captured):
    with pytest.raises(QueryError, match="is not in the graph"):
        client.token_usage(f"pgid:no_such_{captured['token']}")
    with pytest.raises(QueryError, match="is not in the graph"):
        client.token_usage_lineage(f"pgid:no_such_{captured['token']}")


def test_prompts_and_responses_are_recorded(captured):
    """Texts read from each provider's response class; a messages list is kept as JSON."""
    records = [r for m in captured["messages"] for r in m.records if r.get("k") == "activity"]
    by_name = {}
    for record in records:
        attrs = dict(record.get("a", []))
        by_name[attrs.get("pg:name")] = attrs
    assert by_name["llm:mistral-small"]["pg:response"] == "more"
    assert by_name["llm:mistral-small"]["pg:prompt"].startswith('[{"content":"why ')
    assert by_name["llm:gemini-flash"]["pg:response"] == "facts"
    assert by_name["ask_claude"]["pg:response"] == "edited"
    assert by_name["ask_openai"]["pg:response"] == "draft"


def test_tokens_command(client, captured, any_backend, monkeypatch, capsys):
    import json

    from provgraph.cli.main import main

    monkeypatch.setenv("PROVGRAPH_GRAPH_URL", any_backend.settings.graph_url)
    monkeypatch.setenv("PROVGRAPH_HOME", any_backend.settings.home)
    monkeypatch.delenv("PROVGRAPH_SETTINGS", raising=False)
    run = captured["run"]
    assert main(["tokens", run, "--json"]) == 0
    (totals,) = json.loads(capsys.readouterr().out)
    assert (totals["calls"], totals["tokens_total"]) == (4, 49)
    assert main(["tokens", run]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["calls", "tokens_in", "tokens_out", "tokens_total", "cost", "models"]
    assert table[2].split()[:4] == ["4", "33", "16", "49"]
    assert main(["tokens", run, "--by-step"]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert rows[0].split()[:2] == ["1", "summarise"] and rows[0].split()[4:6] == ["8", "27"]
    answer = _output(client, _task(client, run, "summarise"))
    assert main(["tokens", answer, "--lineage", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["tokens_total"] == 49
    assert main(["tokens", f"pgid:no_such_{captured['token']}"]) == 1
    assert "is not in the graph" in capsys.readouterr().err
