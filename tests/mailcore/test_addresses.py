"""mailcore.message.addresses answers exactly as email.utils.getaddresses, whose answer
the summary and ENVELOPE have always stored: its own reading of the common shapes must
not change a single pair."""
from __future__ import annotations

import email.utils

from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.message.addresses import address_pairs

PIECES = st.sampled_from([
    "a", "Bob", "x.y", "o'neil", "=?utf-8?q?J=C3=A9?=", "-", "+tag", "@", ".", "..", "<", ">", ",", " ", "  ", "\t",
    "example.org", "b.example", '"', "(c)", ":", ";", "[1.2.3.4]", "\u00e9", "\\", "\r\n ",
])


WORD = st.sampled_from(["a", "Bob", "o'neil", "=?utf-8?q?J=C3=A9?=", "-", "x+y", "\u00e9", "a.b", "", "#"])
SPACE = st.sampled_from(["", " ", "  ", "\t", " \t"])
ADDRESS = st.builds(lambda local, domain: f"{local}@{domain}", WORD, st.sampled_from(
    ["example.org", "b", "a..b", "x.", "[1.2.3.4]", "\u00e9.example", ""]))
MEMBER = st.one_of(
    ADDRESS,
    ADDRESS.map(lambda a: f"<{a}>"),
    st.builds(lambda words, sp, a: sp.join(words) + sp + f"<{a}>", st.lists(WORD, max_size=3), SPACE, ADDRESS),
)
# Address lists of the shapes the fast path reads, with its edge cases mixed in.
LISTS = st.builds(lambda members, sp, lead: lead + ("," + sp).join(members) + sp,
                  st.lists(MEMBER, min_size=1, max_size=4), SPACE, SPACE)


@settings(max_examples=600, deadline=None)
@given(st.one_of(LISTS, st.lists(PIECES, max_size=14).map("".join)))
def test_address_pairs_answer_as_the_standard_library(text: str) -> None:
    assert address_pairs(text) == email.utils.getaddresses([text])


def test_common_shapes() -> None:
    assert address_pairs("Bob  Smith <bob@example.org>, carol@example.org, <dave@b.example>") == [
        ("Bob Smith", "bob@example.org"), ("", "carol@example.org"), ("", "dave@b.example")]
    # Left to the standard library (and still its answer): quotes, groups, comments.
    assert address_pairs('"Smith, Bob" <bob@example.org>') == [("Smith, Bob", "bob@example.org")]
    assert address_pairs("friends: a@example.org, b@example.org;") == [
        ("", "a@example.org"), ("", "b@example.org")]
    assert address_pairs("a@example.org (Alice)") == [("Alice", "a@example.org")]
    assert address_pairs("") == email.utils.getaddresses([""])
