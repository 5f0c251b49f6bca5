import pytest

from blog import search


@pytest.mark.parametrize(
    ("typed", "expression"),
    [
        ("Replication", '"replicat"*'),
        ("replicating replicas", '"replicat"* "replica"*'),
        ("queries", '"query"*'),
        ("caches", '"cach"*'),
        ("uses", '"uses"*'),  # too short to trim safely
        ("wal", '"wal"*'),
        ('c++ "unclosed', '"c"* "unclos"*'),
        ("title:x OR NEAR(", '"title"* "x"* "or"* "near"*'),
        ("", ""),
        ("!!!", ""),
    ],
)
def test_typed_words_become_quoted_prefix_terms(typed, expression):
    assert search.match_expression(typed) == expression


def test_a_very_long_query_is_cut_to_a_dozen_words():
    assert search.match_expression("word " * 50).count('"*') == search.MAX_TERMS
