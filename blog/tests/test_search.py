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
        ('c++ "unclosed', '"c" "unclos"*'),
        ("title:x OR NEAR(", '"title"* "x" "or"* "near"*'),
        ("snake_case", '"snake"* "case"*'),
        ("", ""),
        ("!!!", ""),
    ],
)
def test_typed_words_become_quoted_prefix_terms(typed, expression):
    assert search.match_expression(typed) == expression


def test_a_one_letter_word_matches_only_as_a_whole_word():
    assert search.match_expression("a*a*a*a*a*a*a*a*a*a*a*a*") == '"a"'
    assert search.match_expression("R stats") == '"r" "stat"*'


def test_a_word_typed_again_is_asked_once():
    assert search.match_expression("replication " * 50) == '"replicat"*'
    # Different words trimmed to the same stem are one term too.
    assert search.match_expression("replicating replicated replication") == '"replicat"*'


def test_a_query_of_many_words_keeps_only_the_first_few_distinct_terms():
    words = [f"word{number}" for number in range(100)]
    expression = search.match_expression(" ".join(f"{word} {word}" for word in words))
    assert expression == " ".join(f'"{word}"*' for word in words[: search.MAX_TERMS])


def test_only_the_start_of_a_very_long_query_is_read():
    filler = "x" * search.MAX_QUERY_CHARS
    assert search.match_expression(filler + " zebra") == f'"{filler}"*'
    assert search.match_expression("zebra " + "y" * 20_000).startswith('"zebra"* "y')
    assert len(search.match_expression("zebra " + "y" * 20_000)) < search.MAX_QUERY_CHARS + 10
