"""Map: run a child workflow once per list item (at most ``concurrency`` at a time), then
gather the results in order. The same workflow as ``map.yaml``.

    python examples/map.py
"""

from __future__ import annotations

import json

from plait import Engine, Flow, Workflow

SAMPLE = {"text": "plait runs workflows\n\n  one node per step \nand many steps at once"}


def line_stats() -> Flow:
    """Run once per line: the tidied line and its word count."""
    flow = Flow("line_stats")
    item = flow.input("item", type="string")
    tidy = flow.transform("tidy", expression="value | trim", inputs=item)
    count = flow.node("count", "transform", function="word_count", inputs=item)
    flow.output("line", tidy)
    flow.output("words", count)
    return flow


def build() -> Workflow:
    flow = Flow("word_counts",
                description="Count the words on every line of a text, and in total.")
    text = flow.input("text", type="string", default=SAMPLE["text"])
    split = flow.node("split", "transform", function="lines", inputs=text)  # non-blank lines
    each = flow.map("each", line_stats(), items=split, item_input="item", concurrency=4)
    total = flow.transform("total", expression="value | sum(attribute='words')", inputs=each)
    flow.output("per_line", each)
    flow.output("total_words", total)
    return flow.build()


if __name__ == "__main__":
    result = Engine().run_sync(build(), SAMPLE)
    print(json.dumps(result.outputs, indent=2))
