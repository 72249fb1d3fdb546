"""Parallel: three independent measurements fan out from one input and join again.

Each branch starts as soon as its input is ready; ``stats`` waits for all three. The same
workflow as ``parallel.yaml``.

    python examples/parallel.py
"""

from __future__ import annotations

import json

from plait import Engine, Flow, Workflow

SAMPLE = {"text": "Plait runs nodes\nas soon as their inputs\nare ready."}
SUMMARY = "{{ value.words }} words on {{ value.lines }} lines ({{ value.chars }} characters)"


def build() -> Workflow:
    flow = Flow("text_stats",
                description="Measure a text three ways at once, then gather the figures.")
    text = flow.input("text", type="string", default=SAMPLE["text"])
    words = flow.node("words", "transform", function="word_count", inputs=text)
    lines = flow.transform("lines", expression="value.splitlines() | length", inputs=text)
    chars = flow.node("chars", "transform", function="length", inputs=text)
    # A list of inputs lands on ports named after the source nodes: words, lines, chars.
    stats = flow.node("stats", "transform", function="merge", inputs=[words, lines, chars])
    summary = flow.transform("summary", template=SUMMARY, inputs=stats)
    flow.output("figures", stats)
    flow.output("report", summary)
    return flow.build()


if __name__ == "__main__":
    result = Engine().run_sync(build(), SAMPLE)
    print(json.dumps(result.outputs, indent=2))
