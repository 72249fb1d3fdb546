"""Sub-workflow: run another workflow as one node. Here the child is the slugify workflow
of ``sequential.yaml``, read from its file (a Python ``Flow`` works just as well). The same
workflow as ``subworkflow.yaml``.

    python examples/subworkflow.py
"""

from __future__ import annotations

import json
from pathlib import Path

from plait import Engine, Flow, Workflow, load_spec

SAMPLE = {"title": "Readiness Scheduling Explained", "author": "Ada"}
HERE = Path(__file__).resolve().parent


def build() -> Workflow:
    flow = Flow("post_card",
                description="Build a post's link card, reusing the slugify workflow.")
    title = flow.input("title", type="string", default=SAMPLE["title"])
    author = flow.input("author", type="string", default=SAMPLE["author"])
    post = flow.subworkflow("post", load_spec(HERE / "sequential.yaml"),
                            inputs={"title": title})
    card = flow.transform("card", template="{{ title }} by {{ author }}: {{ url }}",
                          inputs={"title": title, "author": author, "url": post["url"]})
    flow.output("links", post)
    flow.output("card_text", card)
    return flow.build()


if __name__ == "__main__":
    result = Engine().run_sync(build(), SAMPLE)
    print(json.dumps(result.outputs, indent=2))
