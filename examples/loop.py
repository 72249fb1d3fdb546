"""Loop: repeat a child workflow, feeding its outputs back in as its inputs, until a
condition holds. ``max_iterations`` bounds it: reaching the bound is an error, never a hang.
The same workflow as ``loop.yaml``.

    python examples/loop.py
"""

from __future__ import annotations

import json

from plait import Engine, Flow, Workflow

SAMPLE = {"text": "Readiness scheduling starts every node the moment its inputs are ready",
          "max_chars": 40}


def body() -> Flow:
    """One iteration: drop the last word unless the text already fits."""
    flow = Flow("drop_last_word")
    text = flow.input("text", type="string")
    max_chars = flow.input("max_chars", type="integer")
    drop = flow.transform(
        "drop", inputs={"text": text, "max_chars": max_chars},
        expression="text if text | length <= max_chars else text.split()[:-1] | join(' ')")
    flow.output("text", drop)  # named like the input it replaces next time
    return flow


def build() -> Workflow:
    flow = Flow("truncate", description="Shorten a text word by word until it fits.")
    text = flow.input("text", type="string", default=SAMPLE["text"])
    max_chars = flow.input("max_chars", type="integer", default=SAMPLE["max_chars"])
    # `until` sees the loop state: the loop's inputs updated by each iteration's outputs,
    # plus `iteration` (1, 2, ...). It is checked after every iteration.
    trim = flow.loop("trim", body(), max_iterations=20, until="text | length <= max_chars",
                     inputs={"text": text, "max_chars": max_chars})
    flow.output("short", trim["text"])  # one field of the loop's final state
    flow.output("iterations", trim["iteration"])
    return flow.build()


if __name__ == "__main__":
    result = Engine().run_sync(build(), SAMPLE)
    print(json.dumps(result.outputs, indent=2))
