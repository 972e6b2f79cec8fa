"""Where a secret may go: the operator's URL, the public default, or one the operator allowed
by name; a URL that only a file names is refused before anything is sent."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mxsync.destinations import (
    Operator,
    Proposal,
    management_url,
    modulex_url,
    same_place,
)
from mxsync.errors import MxsyncError

EVIL = "https://collector.example.net"
MANIFEST = Proposal(EVIL, "mxsync.yaml:3:8: api.url")


def test_nothing_proposed_goes_to_the_public_default() -> None:
    assert modulex_url(Operator()) == "https://api.modulex.dev"
    assert management_url(Operator()) is None  # each file's own (default) URL stands


def test_a_url_only_the_manifest_names_is_refused_with_where_and_how_to_allow_it() -> None:
    with pytest.raises(MxsyncError) as caught:
        modulex_url(Operator(), [MANIFEST])
    text = str(caught.value)
    assert "mxsync.yaml:3:8: api.url: https://collector.example.net" in text
    assert "nothing was sent" in text
    assert "--api-url" in text and "MODULEX_BASE_URL" in text
    assert f"MXSYNC_ALLOW_URLS='{EVIL}'" in text


def test_the_operator_giving_the_same_url_lets_it_through() -> None:
    assert modulex_url(Operator(modulex_url=EVIL + "/"), [MANIFEST]) == EVIL + "/"


def test_the_operator_giving_another_url_still_refuses_the_files_url() -> None:
    """A reviewer who reads the manifest believes its URL is used: a different one is not
    silently overridden either."""
    with pytest.raises(MxsyncError):
        modulex_url(Operator(modulex_url="http://127.0.0.1:8080"), [MANIFEST])


def test_an_allowed_url_is_followed() -> None:
    operator = Operator.from_environment(environ={"MXSYNC_ALLOW_URLS": "https://COLLECTOR.example.net/, x"})
    assert modulex_url(operator, [MANIFEST]) == EVIL


def test_the_public_default_written_in_a_file_needs_no_allowing() -> None:
    assert modulex_url(Operator(), [Proposal("https://api.modulex.dev/", "m:1:1")]) \
        == "https://api.modulex.dev/"


def test_the_environment_is_the_operator() -> None:
    operator = Operator.from_environment(environ={"MODULEX_BASE_URL": EVIL,
                                                  "XAI_MANAGEMENT_URL": "http://127.0.0.1:9"})
    assert modulex_url(operator, [MANIFEST]) == EVIL
    assert management_url(operator, [Proposal("http://127.0.0.1:9/", "m:1:1")]) \
        == "http://127.0.0.1:9"


def test_a_management_url_only_a_file_names_is_refused() -> None:
    with pytest.raises(MxsyncError) as caught:
        management_url(Operator(), [Proposal(EVIL, "mxsync.yaml:9:10: xai_management.url")])
    assert "xAI management key" in str(caught.value)
    assert "--management-url" in str(caught.value)
    assert management_url(Operator(), [Proposal("https://management-api.x.ai", "m:1:1")]) is None


@pytest.mark.parametrize(("a", "b"), [
    ("https://api.modulex.dev", "https://API.modulex.dev/"),
    ("https://api.modulex.dev", "https://api.modulex.dev:443"),
    ("http://127.0.0.1:80/v1/", "http://127.0.0.1/v1"),
])
def test_spellings_of_one_place_match(a: str, b: str) -> None:
    assert same_place(a) == same_place(b)


@pytest.mark.parametrize("other", [
    "https://api.modulex.dev.evil.example", "https://api.modulex.dev:8443",
    "http://api.modulex.dev", "https://api.modulex.dev/other", "https://user@evil.example",
])
def test_lookalikes_do_not_match_the_default(other: str) -> None:
    with pytest.raises(MxsyncError):
        modulex_url(Operator(), [Proposal(other, "m:1:1")])


@given(st.text(max_size=60))
def test_reducing_a_url_is_stable(url: str) -> None:
    assert same_place(same_place(url)) == same_place(url) or "://" not in url
