"""The control language: every address parses, every bad message is refused with a reason."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gesturegan.server.core.commands import SPEC, BadMessage, describe, parse

CATS = ("trigger", "trigger_continuous", "continuous_variation", "continuous_repetition")


def test_trigger_forms():
    assert parse("/trigger", [], CATS).args == {
        "category": None,
        "velocity": 1.0,
        "position": None,
        "seed": None,
    }
    c = parse("/trigger", ["continuous_variation", 0.5, 0.25, 7], CATS)
    assert c.args == {"category": 2, "velocity": 0.5, "position": 0.25, "seed": 7}
    assert parse("/trigger", [3], CATS)["category"] == 3
    assert parse("/trigger", [1.0], CATS)["category"] == 1
    assert parse("/trigger", ["mix", 0.3], CATS).args["category"] is None  # the morph mix, with a velocity
    with pytest.raises(BadMessage):
        parse("/render", ["mix"], CATS)  # /render needs a category


@pytest.mark.parametrize(
    ("address", "args", "reason"),
    [
        ("/nope", [], "unknown address"),
        ("/trigger", ["drums"], "unknown category 'drums'"),
        ("/trigger", [4], "category index must be 0..3"),
        ("/trigger", [0, float("nan")], "velocity must be finite"),
        ("/trigger", [0, 2.0], "velocity must be in 0..1"),
        ("/trigger", [0, 1.0, 0.5, 1, 9], "at most 4 arguments"),
        ("/morph", [0.5], "missing y"),
        ("/morph", ["a", 0.1], "x must be a number"),
        ("/morph/weights", [1, 0, 0], "needs 4 weights"),
        ("/morph/weights", [0, 0, 0, 0], "at least one weight"),
        ("/latent/seed", [1.5], "whole number"),
        ("/gain", [1e30], r"db must be in -120\.\.24, not 1e\+30"),
        ("/latent/seed", [-1], r"seed must be in 0\.\.2147483647, not -1$"),  # never 2.14748e+09
        ("/model/load", [3], "name must be a string"),
        ("/model/load", ["x" * 300], "too long"),
        ("/trigger", [True], "name or an index"),
    ],
)
def test_bad_messages_say_why(address, args, reason):
    with pytest.raises(BadMessage, match=reason) as e:
        parse(address, args, CATS)
    assert e.value.address == address[:64]


values = st.one_of(
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300),
    st.binary(max_size=40),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
)


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.sampled_from([a.path for a in SPEC]), st.text(max_size=40)), st.lists(values, max_size=6))
def test_anything_parses_or_is_refused_cleanly(address, args):
    try:
        cmd = parse(address, args, CATS)
    except BadMessage as e:
        assert e.reason
        return
    for v in cmd.args.values():
        assert v is None or isinstance(v, int | float | str | tuple)
        if isinstance(v, float):
            assert math.isfinite(v)


def test_the_spec_describes_every_address():
    rows = describe()
    assert [r["address"] for r in rows] == [a.path for a in SPEC]
    assert {"/trigger", "/morph", "/morph/weights", "/panic", "/render", "/model/load", "/status"} <= {
        r["address"] for r in rows
    }


def test_the_token_bucket_allows_a_seconds_burst_then_its_rate():
    from gesturegan.server.core.ratelimit import TokenBucket

    now = [0.0]
    bucket = TokenBucket(10, clock=lambda: now[0])
    assert sum(bucket.take() for _ in range(50)) == 10  # a second's worth at once
    now[0] += 0.25
    assert sum(bucket.take() for _ in range(50)) == 2  # 2.5 tokens: two whole ones
    now[0] += 60
    assert sum(bucket.take() for _ in range(50)) == 10  # never more than the burst
