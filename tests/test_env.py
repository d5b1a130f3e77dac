"""helpers.env: platform, GPU, network, fast mode, seeding, and clear errors on bad input."""

import random
import socket
import sys
import time

import numpy as np
import pytest

from helpers import env


def test_not_in_colab_here():
    assert env.in_colab() is False


def test_has_gpu_answers_for_each_framework_and_rejects_others():
    torch = pytest.importorskip("torch")
    assert env.has_gpu("torch") == torch.cuda.is_available()
    assert isinstance(env.has_gpu(), bool)
    with pytest.raises(ValueError, match="framework must be"):
        env.has_gpu("jax")


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("true", True), ("ON", True), ("0", False), ("no", False), ("", False)])
def test_fast_mode_reads_course_fast(monkeypatch, raw, expected):
    monkeypatch.setenv("COURSE_FAST", raw)
    assert env.fast_mode() is expected


def test_fast_mode_default_off_and_bad_value_is_an_error(monkeypatch):
    monkeypatch.delenv("COURSE_FAST", raising=False)
    assert env.fast_mode() is False
    monkeypatch.setenv("COURSE_FAST", "maybe")
    with pytest.raises(ValueError, match="COURSE_FAST='maybe'"):
        env.fast_mode()


def test_is_online_true_for_a_listening_local_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        assert env.is_online(timeout=2, hosts=(("127.0.0.1", server.getsockname()[1]),)) is True


def test_is_online_false_for_a_closed_port_quickly():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        start = time.monotonic()
        assert env.is_online(timeout=1, hosts=(("127.0.0.1", port),)) is False
    assert time.monotonic() - start < 1.5


def test_is_online_never_hangs_even_when_connecting_stalls(monkeypatch):
    def stall(*args, **kwargs):
        time.sleep(5)  # like a DNS lookup that never answers
        raise OSError("too late")

    monkeypatch.setattr(env.socket, "create_connection", stall)
    start = time.monotonic()
    assert env.is_online(timeout=0.3) is False
    assert time.monotonic() - start < 1.0


def test_is_online_respects_course_offline_and_validates(monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    assert env.is_online() is False
    for bad in (0, -1, "2", None, True):
        with pytest.raises(ValueError, match="timeout must be a positive number"):
            env.is_online(timeout=bad)
    monkeypatch.delenv("COURSE_OFFLINE")
    with pytest.raises(ValueError, match="at least one"):
        env.is_online(hosts=())


def test_seed_everything_makes_random_streams_repeat():
    torch = pytest.importorskip("torch")
    draws = []
    for _ in range(2):
        assert env.seed_everything(123) == 123
        draws.append((random.random(), np.random.rand(), float(torch.rand(1))))  # noqa: NPY002 (the legacy global stream is what seeding sets)
    assert draws[0] == draws[1]


@pytest.mark.parametrize("bad", [1.5, "1", None, True])
def test_seed_everything_rejects_non_int(bad):
    with pytest.raises(TypeError, match="seed must be an int"):
        env.seed_everything(bad)


@pytest.mark.parametrize("bad", [-1, 2**32])
def test_seed_everything_rejects_out_of_range(bad):
    with pytest.raises(ValueError, match="seed must be in"):
        env.seed_everything(bad)


def test_describe_environment_is_two_short_lines(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    line = env.describe_environment()
    assert len(line.splitlines()) == 2 and all(len(x) <= 120 for x in line.splitlines())
    assert line.startswith("Python ")
    assert "network: offline" in line and "mode: fast" in line and "GPU:" in line
    assert "network" not in env.describe_environment(check_network=False)


def _no_probe(*args, **kwargs):
    raise AssertionError("the network was probed although COURSE_ONLINE/COURSE_OFFLINE forced the answer")


def test_course_online_forces_online_without_probing(monkeypatch):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setenv("COURSE_ONLINE", "1")
    monkeypatch.setattr(env.socket, "create_connection", _no_probe)
    assert env.forced_network() == "online"
    assert env.is_online(timeout=0.1) is True
    with socket.socket() as s:  # a closed port would answer False if probed
        s.bind(("127.0.0.1", 0))
        assert env.is_online(timeout=0.1, hosts=(("127.0.0.1", s.getsockname()[1]),)) is True


def test_course_offline_forces_offline_without_probing(monkeypatch):
    monkeypatch.delenv("COURSE_ONLINE", raising=False)
    monkeypatch.setenv("COURSE_OFFLINE", "yes")
    monkeypatch.setattr(env.socket, "create_connection", _no_probe)
    assert env.forced_network() == "offline"
    assert env.is_online() is False


@pytest.mark.parametrize(("online", "offline", "expected"), [
    (None, None, None), ("0", None, None), (None, "off", None), ("0", "0", None),
    ("1", "0", "online"), ("false", "true", "offline"),
])
def test_forced_network_reads_both_flags(monkeypatch, online, offline, expected):
    for name, value in (("COURSE_ONLINE", online), ("COURSE_OFFLINE", offline)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert env.forced_network() == expected


def test_both_flags_set_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("COURSE_ONLINE", "1")
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(env.socket, "create_connection", _no_probe)
    for call in (env.forced_network, env.is_online, env.describe_environment):
        with pytest.raises(ValueError, match="COURSE_ONLINE='1' and COURSE_OFFLINE='1' are both set"):
            call()


def test_bad_course_online_value_is_an_error(monkeypatch):
    monkeypatch.setenv("COURSE_ONLINE", "sometimes")
    with pytest.raises(ValueError, match="COURSE_ONLINE='sometimes'"):
        env.is_online()


@pytest.mark.parametrize(("flag", "said"), [("COURSE_ONLINE", "network: online (COURSE_ONLINE=1, not probed)"),
                                            ("COURSE_OFFLINE", "network: offline (COURSE_OFFLINE=1, not probed)")])
def test_describe_environment_says_what_was_forced(monkeypatch, flag, said):
    monkeypatch.delenv("COURSE_ONLINE", raising=False)
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setenv(flag, "1")
    monkeypatch.setattr(env.socket, "create_connection", _no_probe)
    assert said in env.describe_environment(check_network=True).split(" | ")


def test_describe_environment_probes_when_nothing_is_forced(monkeypatch):
    monkeypatch.delenv("COURSE_ONLINE", raising=False)
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    monkeypatch.setattr(env, "is_online", lambda: False)
    parts = env.describe_environment().split(" | ")
    assert "network: offline" in parts and not any("forced" in p for p in parts)


def test_describe_environment_names_colab_and_the_rehearsals_stand_in(monkeypatch):
    import types

    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.delenv("COURSE_ONLINE", raising=False)
    colab = types.ModuleType("google.colab")
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    assert "platform: Colab" in env.describe_environment().split(" | ")
    colab.STAND_IN = True
    assert "platform: Colab (simulated by the Colab rehearsal)" in env.describe_environment().split(" | ")
