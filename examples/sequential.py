"""Sequential: each step feeds the next (lowercase -> hyphenate -> link).

The same workflow as ``sequential.yaml``; both produce the identical spec.

    python examples/sequential.py
"""

from __future__ import annotations

import json

from plait import Engine, Flow, Workflow

SAMPLE = {"title": "  Readiness Scheduling   Explained "}


def build() -> Workflow:
    flow = Flow("slugify",
                description="Turn a post title into a URL slug, one step after another.")
    title = flow.input("title", type="string", description="the post title",
                       default=SAMPLE["title"])
    lowercase = flow.node("lowercase", "transform", function="lower", inputs=title)
    hyphenate = flow.transform("hyphenate", expression="value.split() | join('-')",
                               inputs=lowercase)
    link = flow.transform("link", template="https://example.com/posts/{{ value }}",
                          inputs=hyphenate)
    flow.output("slug", hyphenate)
    flow.output("url", link)
    return flow.build()


if __name__ == "__main__":
    result = Engine().run_sync(build(), SAMPLE)
    print(json.dumps(result.outputs, indent=2))
