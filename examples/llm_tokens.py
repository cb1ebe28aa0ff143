"""LLM token accounting: tokens and cost per call, rolled up per run, per step and per result.

Two ways to record a call: `capture.agent_task` on the function that calls the model (usage is read from what it
returns), and `capture.record_llm_call(...)` anywhere (inside a task, inside a run, or outside any workflow).
Both read OpenAI, Anthropic, google-genai and LiteLLM responses as they come back from the provider's client. To
run offline, this example builds replies shaped like theirs as plain dicts (an Anthropic reply has no total:
provgraph derives it). After loading:

    provgraph tokens <run id>                 # the run's totals
    provgraph tokens <run id> --by-step       # per step, each with the calls it made
    provgraph tokens <result id> --lineage    # what one result cost end to end
"""

import capture


def claude(prompt):  # stands in for anthropic.Anthropic().messages.create(...)
    return {
        "model": "claude-haiku",
        "content": [{"type": "text", "text": f"An outline of {len(prompt.split())} points"}],
        "usage": {"input_tokens": len(prompt.split()), "output_tokens": 12},
    }


def gemini(prompt):  # stands in for google.genai.Client().models.generate_content(...)
    return {
        "model_version": "gemini-flash",
        "text": "A short essay.",
        "usage_metadata": {"prompt_token_count": 40, "candidates_token_count": 250, "total_token_count": 290},
    }


@capture.task(output_names="outline")
def plan(topic):
    prompt = f"Outline an essay on {topic}"
    reply = claude(prompt)
    capture.record_llm_call(prompt=prompt, response=reply, cost=0.0004)
    return reply["content"][0]["text"]


@capture.agent_task(agent="writer", output_names="essay")
def write(prompt):
    return gemini(prompt)


if __name__ == "__main__":
    with capture.Workflow("essay") as run:
        outline = plan("provenance")
        essay = write(outline)
    print("run:", run.id)
    # A call made outside any workflow still counts: it joins this process's default run.
    capture.record_llm_call("local-llama", tokens_in=64, tokens_out=20)
