"""Agent instrumentation: an AI agent's tool and LLM calls, with prompt, response, timing and token usage.

The LLM here is a deterministic stand-in returning an OpenAI-style reply with ``usage``; with a real client the
decorator is the same. With an MCP server, put ``@mcp.tool()`` above ``@capture.agent_task``.
"""

import capture


class FakeLLM:
    def invoke(self, prompt):
        words = prompt.split()
        return {
            "content": f"{len(words)} words received",
            "usage": {"prompt_tokens": len(words), "completion_tokens": 3, "total_tokens": len(words) + 3},
        }


llm = FakeLLM()


@capture.agent_task(agent="planner", tool_name="summarise")
def summarise(prompt):
    return llm.invoke(prompt)


@capture.agent_task(agent="planner", output_names="area")
def area_tool(x, y):
    return x * y


if __name__ == "__main__":
    with capture.Workflow("agent_session") as run:
        reply = summarise("Summarise the quarterly report in one line")
        area_tool(3, 4)
        print(reply["content"])
    print("run:", run.id)
