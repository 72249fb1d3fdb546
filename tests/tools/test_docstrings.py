from __future__ import annotations

from plait.tools.docstrings import parse_docstring


def test_empty_and_missing() -> None:
    assert parse_docstring(None).description == ""
    assert parse_docstring("").params == {}


def test_description_is_the_first_paragraph_on_one_line() -> None:
    doc = parse_docstring("""Summary line
    that continues.

    Second paragraph.
    """)
    assert doc.description == "Summary line that continues."


def test_a_docstring_that_starts_with_its_args() -> None:
    doc = parse_docstring("""
    Args:
        x: The x.
    """)
    assert doc.description == ""
    assert doc.params == {"x": "The x."}


def test_google_with_types_stars_and_other_sections() -> None:
    doc = parse_docstring("""Do things.

    Args:
        path (str): Where.
        *names: Extra names.
        **options: Options,
            on two lines.

    Returns:
        value: Not a parameter.

    Raises:
        ValueError: never.
    """)
    assert doc.params == {"path": "Where.", "names": "Extra names.",
                          "options": "Options, on two lines."}


def test_rest_fields_variants() -> None:
    doc = parse_docstring("""Do.

    :param a: A.
    :type a: int
    :keyword b: B.
    :arg int c: C
        more.
    :raises ValueError: no.
    """)
    assert doc.params == {"a": "A.", "b": "B.", "c": "C more."}


def test_numpy_several_names_on_one_line() -> None:
    doc = parse_docstring("""Do.

    Parameters
    ----------
    x, y : float
        Coordinates.
    z
        Height.

    Returns
    -------
    float
        Not a parameter.
    """)
    assert doc.params == {"x": "Coordinates.", "y": "Coordinates.", "z": "Height."}
