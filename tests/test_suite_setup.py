"""The test suite's own set-up: on two workers the tests sharing an expensive fixture must land on one worker."""

from __future__ import annotations

import pytest


def test_expensive_fixtures_are_grouped_onto_one_worker(request):
    """Under ``-n 2 --dist loadgroup`` xdist suffixes a grouped test's node id with its group; where it does not
    (pytest 9 with xdist 3.8 ignored the groups: every expensive fixture was built on both workers, +100 s), fail."""
    if not hasattr(request.config, "workerinput") or not request.config.getvalue("loadgroup"):
        pytest.skip("only under pytest-xdist with --dist loadgroup")
    from conftest import _EXPENSIVE  # type: ignore[import-not-found]

    grouped = [it for it in request.session.items if set(_EXPENSIVE) & set(getattr(it, "fixturenames", ()))]
    assert grouped, "no test uses an expensive fixture: _EXPENSIVE in tests/conftest.py is stale"
    missing = [it.nodeid for it in grouped if "@" not in it.nodeid]
    assert not missing, f"not grouped by xdist: {missing[:3]}"
