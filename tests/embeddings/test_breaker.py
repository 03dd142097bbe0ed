import logging

from embeddings.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_backs_off_doubling_and_closes_on_success(caplog):
    clock = Clock()
    breaker = CircuitBreaker(name="test", backoff=5, max_backoff=12, clock=clock)
    assert breaker.allow()
    with caplog.at_level(logging.INFO, logger="embeddings"):
        breaker.record_failure(ConnectionError("refused"))
        assert breaker.is_open and not breaker.allow()
        clock.now += 5
        assert breaker.allow()  # half-open: one try
        breaker.record_failure(ConnectionError("refused"))
        clock.now += 9.9
        assert not breaker.allow()  # back-off doubled to 10
        clock.now += 0.1
        breaker.record_failure(ConnectionError("refused"))
        clock.now += 12
        assert breaker.allow()  # capped at 12
        breaker.record_success()
    assert not breaker.is_open and breaker.last_error is None
    assert caplog.text.count("unavailable") == 1
    assert caplog.text.count("reachable again") == 1
    breaker.record_failure(ConnectionError("again"))
    clock.now += 5
    assert breaker.allow()  # back-off reset to the base after recovery


def test_half_open_lets_one_caller_probe_while_the_others_skip():
    clock = Clock()
    breaker = CircuitBreaker(name="test", backoff=5, max_backoff=12, clock=clock)
    breaker.record_failure(ConnectionError("refused"))
    clock.now += 5
    assert [breaker.allow() for _ in range(4)] == [True, False, False, False]
    breaker.record_failure(ConnectionError("still refused"))  # the probe failed
    clock.now += 10
    assert [breaker.allow() for _ in range(3)] == [True, False, False]
    breaker.record_success()
    assert [breaker.allow() for _ in range(3)] == [True, True, True]


def test_a_probe_that_never_reports_does_not_wedge_the_breaker():
    clock = Clock()
    breaker = CircuitBreaker(name="test", backoff=5, max_backoff=12, clock=clock)
    breaker.record_failure(ConnectionError("refused"))
    clock.now += 5
    assert breaker.allow()  # this prober's thread dies without reporting
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()


def test_call_skips_while_open_and_a_refusal_counts_as_reachable():
    import pytest

    from embeddings.exceptions import CacheRefused, CacheSkipped, CacheUnavailable

    clock = Clock()
    breaker = CircuitBreaker(name="test", backoff=5, max_backoff=12, clock=clock)
    tried = []

    def down():
        tried.append("down")
        raise CacheUnavailable("refused")

    with pytest.raises(CacheUnavailable):
        breaker.call(down)
    with pytest.raises(CacheSkipped):
        breaker.call(down)  # not even tried
    assert tried == ["down"]
    clock.now += 5

    def full():
        raise CacheRefused("OOM")

    with pytest.raises(CacheRefused):
        breaker.call(full)  # the probe got an answer: the store is reachable
    assert not breaker.is_open
