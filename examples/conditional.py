"""Conditional: a condition picks a branch by label; the untaken branch is skipped, and a
``join="any"`` node merges whichever branch ran. The same workflow as ``conditional.yaml``.

    python examples/conditional.py
"""

from __future__ import annotations

import json

from plait import Engine, Flow, Workflow

SAMPLE = {"message": "Where is my order?"}


def build() -> Workflow:
    flow = Flow("triage", description="Answer questions and acknowledge statements.")
    message = flow.input("message", type="string", default=SAMPLE["message"])
    route = flow.condition(
        "route", inputs=message,
        expression="'question' if value.strip().endswith('?') else 'statement'")
    answer = flow.transform("answer", inputs=route.on("question"),
                            template="Good question! Someone will reply to: {{ value }}")
    acknowledge = flow.transform("acknowledge", inputs=route.on("statement"),
                                 template="Thanks, noted: {{ value }}")
    merge = flow.transform("merge", expression="value", join="any")
    flow.edge(answer, "merge")  # both branches land on merge's primary input
    flow.edge(acknowledge, "merge")
    flow.output("reply", merge)
    return flow.build()


if __name__ == "__main__":
    engine = Engine()
    for message in (SAMPLE["message"], "The parcel arrived."):
        print(json.dumps(engine.run_sync(build(), {"message": message}).outputs))
