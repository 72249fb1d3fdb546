"""The ``plait`` command line: init, validate, run, graph, version, doctor.

The renderers in :mod:`plait.cli.graph` are pure functions of a
:class:`~plait.graph.spec.WorkflowSpec`, usable from docs and tests without the CLI.
"""
