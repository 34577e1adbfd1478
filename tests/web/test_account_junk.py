"""Junk filter settings and statistics on the account pages."""
from __future__ import annotations

import re

from accounts.models import Account
from mailstore import junk
from mailstore.actions import deliver_bytes

SETTINGS = {
    "enabled": "on", "threshold": "0.9", "onegrams": "on", "twograms": "on", "max_power": "0.02", "top_words": "12",
    "ignore_words": "0.15", "rare_words": "3", "auto_enabled": "on", "junk_mailbox_regexp": "^(junk|spam|bulk)",
    "neutral_mailbox_regexp": "^inbox", "not_junk_mailbox_regexp": "",
}


def _text(html: str, id_: str) -> str:
    return re.search(rf'<dd id="{id_}">(.*?)</dd>', html).group(1)  # type: ignore[union-attr]


def test_it_shows_trained_counts(alice_client, alice):
    spam = deliver_bytes(alice, "Junk", b"Subject: cheap pills\r\n\r\nbuy cheap pills now\r\n")
    ham = deliver_bytes(alice, "Inbox", b"Subject: lunch\r\n\r\nlunch at noon tomorrow\r\n")
    deliver_bytes(alice, "Inbox", b"Subject: other\r\n\r\nuntrained\r\n")
    junk.train(alice, spam, True)
    junk.train(alice, ham, False)
    html = alice_client.get("/account/junk/").text
    assert _text(html, "junk-state") == "on"
    assert _text(html, "junk-trained") == "1 good, 1 junk"
    words = re.fullmatch(r"(\d+) distinct: (\d+) seen in good mail, (\d+) in junk", _text(html, "junk-words"))
    assert words is not None
    total, in_ham, in_spam = map(int, words.groups())
    assert in_ham >= 4 and in_spam >= 4 and total == in_ham + in_spam  # no word is in both messages
    assert _text(html, "junk-messages").startswith("1 trained as good, 1 as junk;")


def test_it_saves_settings(alice_client, alice):
    resp = alice_client.post("/account/junk/", SETTINGS)
    assert resp.status_code == 302
    a = Account.objects.get(pk=alice.pk)
    assert a.junk_filter == {
        "threshold": 0.9, "onegrams": True, "twograms": True, "threegrams": False, "max_power": 0.02,
        "top_words": 12, "ignore_words": 0.15, "rare_words": 3,
    }
    assert a.automatic_junk_flags == {
        "enabled": True, "junk_mailbox_regexp": "^(junk|spam|bulk)", "neutral_mailbox_regexp": "^inbox", "not_junk_mailbox_regexp": "",
    }
    assert junk.params_for(a).threshold == 0.9
    page = alice_client.get("/account/junk/").text
    assert "Junk filter settings saved." in page
    assert 'name="threshold" value="0.9"' in page


def test_it_turns_the_filter_off(alice_client, alice):
    alice_client.post("/account/junk/", {**SETTINGS, "enabled": ""})
    a = Account.objects.get(pk=alice.pk)
    assert a.junk_filter == {}
    assert not junk.enabled(a)
    assert _text(alice_client.get("/account/junk/").text, "junk-state") == "off"


def test_it_refuses_bad_settings(alice_client, alice):
    resp = alice_client.post("/account/junk/", {**SETTINGS, "threshold": "1.5", "junk_mailbox_regexp": "([", "onegrams": "", "twograms": ""})
    assert resp.status_code == 400
    assert "Ensure this value is less than or equal to 1." in resp.text
    assert "Not a valid regular expression: unterminated character set at position 1." in resp.text
    assert "Count at least one kind of word combination." in resp.text
    assert Account.objects.get(pk=alice.pk).junk_filter["threshold"] == 0.95
