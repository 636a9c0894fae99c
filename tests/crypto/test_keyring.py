"""Key ring: key file protection, wrapping data keys, rotation across processes."""

from __future__ import annotations

import base64
import json
import os
import pickle
import stat
from pathlib import Path

import pytest

from counsel.crypto import (
    DataKeyUnwrapError,
    KeyRing,
    KeyRingError,
    UnknownKeyVersion,
)

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def _document(**overrides: object) -> str:
    document: dict[str, object] = {
        "format": 1,
        "master_keys": {"1": _b64(b"k" * 32)},
        "derivation_key": _b64(b"d" * 32),
    }
    document.update(overrides)
    return json.dumps(document)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.json"
    KeyRing.create_file(path)
    return path


@posix_only
def test_create_file_makes_an_owner_only_file(tmp_path: Path) -> None:
    path = tmp_path / "instance" / "keys.json"
    ring = KeyRing.create_file(path)
    assert _mode(path) == 0o600
    assert ring.versions == [1]
    assert KeyRing.from_file(path).to_json() == ring.to_json()


@posix_only
def test_create_file_ignores_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        KeyRing.create_file(tmp_path / "keys.json")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "keys.json") == 0o600


def test_create_file_refuses_to_overwrite(key_file: Path) -> None:
    before = key_file.read_bytes()
    with pytest.raises(KeyRingError, match="already exists"):
        KeyRing.create_file(key_file)
    assert key_file.read_bytes() == before
    assert [p.name for p in key_file.parent.iterdir()] == ["keys.json"]


def test_create_file_gives_fresh_keys_each_time(tmp_path: Path) -> None:
    one = KeyRing.create_file(tmp_path / "one.json")
    two = KeyRing.create_file(tmp_path / "two.json")
    assert one.to_json() != two.to_json()
    assert one.purpose_key("blind-index") != two.purpose_key("blind-index")


@posix_only
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o610, 0o660])
def test_file_open_to_group_or_others_is_refused(key_file: Path, mode: int) -> None:
    key_file.chmod(mode)
    with pytest.raises(KeyRingError) as caught:
        KeyRing.from_file(key_file)
    assert f"chmod 600 {key_file}" in str(caught.value)


@posix_only
def test_owner_read_only_file_is_accepted(key_file: Path) -> None:
    key_file.chmod(0o400)
    assert KeyRing.from_file(key_file).versions == [1]


def test_missing_file_is_refused_with_the_command_to_run(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match="counsel keys init"):
        KeyRing.from_file(tmp_path / "absent.json")


def test_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keys.json").mkdir(mode=0o700)
    with pytest.raises(KeyRingError, match="not a regular file"):
        KeyRing.from_file(tmp_path / "keys.json")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{not json",
        "[]",
        _document(format=2),
        _document(master_keys={}),
        _document(master_keys=[_b64(b"k" * 32)]),
        _document(master_keys={"one": _b64(b"k" * 32)}),
        _document(master_keys={"01": _b64(b"k" * 32)}),
        _document(master_keys={"0": _b64(b"k" * 32)}),
        _document(master_keys={"1": "not base64!"}),
        _document(master_keys={"1": _b64(b"k" * 16)}),
        _document(master_keys={"1": 12}),
        _document(derivation_key=None),
        _document(derivation_key=_b64(b"d" * 31)),
    ],
)
def test_malformed_content_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(KeyRingError) as caught:
        KeyRing.from_file(path)
    assert str(path) in str(caught.value)
    with pytest.raises(KeyRingError):
        KeyRing.from_json(text)


def test_malformed_message_never_quotes_a_key() -> None:
    secret = _b64(b"s" * 32)
    text = _document(master_keys={"1": secret + "="}, derivation_key=secret)
    with pytest.raises(KeyRingError) as caught:
        KeyRing.from_json(text)
    assert secret not in str(caught.value)


def test_json_round_trip_keeps_every_key(key_file: Path) -> None:
    ring = KeyRing.from_file(key_file)
    ring.add_version()
    copy = KeyRing.from_json(ring.to_json())
    version, wrapped = ring.wrap(b"x" * 32, "case-1")
    assert copy.unwrap(version, wrapped, "case-1") == b"x" * 32
    assert copy.purpose_key("audit") == ring.purpose_key("audit")


@pytest.mark.parametrize(
    ("master_keys", "derivation_key"),
    [({}, b"d" * 32), ({1: b"k" * 31}, b"d" * 32), ({1: b"k" * 32}, b"d" * 33)],
)
def test_constructor_refuses_empty_ring_and_wrong_lengths(master_keys: dict[int, bytes], derivation_key: bytes) -> None:
    with pytest.raises(KeyRingError):
        KeyRing(master_keys, derivation_key)


def test_repr_shows_no_key_material() -> None:
    ring = KeyRing({1: b"k" * 32}, b"d" * 32)
    assert "kkkk" not in repr(ring)
    assert _b64(b"k" * 32) not in repr(ring)


def test_wrap_unwrap_round_trip() -> None:
    ring = KeyRing({1: os.urandom(32)}, os.urandom(32))
    data_key = KeyRing.new_data_key()
    version, wrapped = ring.wrap(data_key, "case-1")
    assert version == 1
    assert data_key not in wrapped
    assert ring.unwrap(version, wrapped, "case-1") == data_key


def test_new_data_keys_are_32_random_bytes() -> None:
    keys = {KeyRing.new_data_key() for _ in range(100)}
    assert len(keys) == 100
    assert {len(key) for key in keys} == {32}


def test_wrapping_twice_gives_different_ciphertexts() -> None:
    ring = KeyRing({1: os.urandom(32)}, os.urandom(32))
    assert ring.wrap(b"x" * 32, "case-1") != ring.wrap(b"x" * 32, "case-1")


def test_wrap_refuses_a_short_data_key() -> None:
    ring = KeyRing({1: os.urandom(32)}, os.urandom(32))
    with pytest.raises(ValueError, match="32 bytes"):
        ring.wrap(b"x" * 16, "case-1")


def test_unwrap_for_another_record_fails() -> None:
    ring = KeyRing({1: os.urandom(32)}, os.urandom(32))
    version, wrapped = ring.wrap(KeyRing.new_data_key(), "case-1")
    with pytest.raises(DataKeyUnwrapError) as caught:
        ring.unwrap(version, wrapped, "case-2")
    assert (caught.value.key_id, caught.value.version) == ("case-2", 1)
    assert isinstance(caught.value, KeyRingError)


def test_unwrap_of_a_tampered_or_truncated_key_fails() -> None:
    ring = KeyRing({1: os.urandom(32)}, os.urandom(32))
    version, wrapped = ring.wrap(KeyRing.new_data_key(), "case-1")
    for position in range(len(wrapped)):
        flipped = bytearray(wrapped)
        flipped[position] ^= 0x01
        with pytest.raises(DataKeyUnwrapError):
            ring.unwrap(version, bytes(flipped), "case-1")
    for length in range(len(wrapped)):
        with pytest.raises(DataKeyUnwrapError):
            ring.unwrap(version, wrapped[:length], "case-1")


def test_unwrap_with_another_ring_fails() -> None:
    ring = KeyRing({1: os.urandom(32)}, os.urandom(32))
    other = KeyRing({1: os.urandom(32)}, os.urandom(32))
    version, wrapped = ring.wrap(KeyRing.new_data_key(), "case-1")
    with pytest.raises(DataKeyUnwrapError):
        other.unwrap(version, wrapped, "case-1")


def test_unwrap_under_a_claimed_other_version_fails() -> None:
    master = os.urandom(32)
    ring = KeyRing({1: master, 2: master}, os.urandom(32))
    _, wrapped = ring.wrap(KeyRing.new_data_key(), "case-1")
    with pytest.raises(DataKeyUnwrapError):
        ring.unwrap(1, wrapped, "case-1")  # same key, but the version is bound too


def test_unknown_version_raises_unknown_key_version() -> None:
    ring = KeyRing({1: os.urandom(32)}, os.urandom(32))
    _, wrapped = ring.wrap(KeyRing.new_data_key(), "case-1")
    with pytest.raises(UnknownKeyVersion) as caught:
        ring.unwrap(7, wrapped, "case-1")
    assert caught.value.version == 7
    assert "7" in str(caught.value)


def test_add_version_writes_the_file_before_returning(key_file: Path) -> None:
    ring = KeyRing.from_file(key_file)
    old_version, old_wrapped = ring.wrap(b"a" * 32, "case-1")
    assert ring.add_version() == 2
    assert ring.current_version == 2
    reloaded = KeyRing.from_file(key_file)
    assert reloaded.versions == [1, 2]
    assert reloaded.unwrap(old_version, old_wrapped, "case-1") == b"a" * 32
    version, wrapped = ring.wrap(b"b" * 32, "case-2")
    assert version == 2
    assert reloaded.unwrap(version, wrapped, "case-2") == b"b" * 32
    if os.name == "posix":
        assert _mode(key_file) == 0o600
    assert [p.name for p in key_file.parent.iterdir()] == ["keys.json"]


def test_refresh_picks_up_a_version_added_elsewhere(key_file: Path) -> None:
    app = KeyRing.from_file(key_file)
    assert app.refresh() is False
    cli = KeyRing.from_file(key_file)
    cli.add_version()
    assert app.refresh() is True
    assert app.versions == [1, 2]
    assert app.refresh() is False


def test_refresh_does_not_read_an_unchanged_file(key_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ring = KeyRing.from_file(key_file)

    def refuse(path: Path) -> None:
        raise AssertionError(f"{path} was read")

    monkeypatch.setattr("counsel.crypto.keyring._read_key_file", refuse)
    assert ring.refresh() is False


def test_unwrap_rereads_the_file_once_for_a_new_version(key_file: Path) -> None:
    app = KeyRing.from_file(key_file)
    cli = KeyRing.from_file(key_file)
    cli.add_version()
    version, wrapped = cli.wrap(b"r" * 32, "case-1")
    assert version == 2
    assert app.unwrap(version, wrapped, "case-1") == b"r" * 32


def test_add_version_builds_on_what_another_process_wrote(key_file: Path) -> None:
    first = KeyRing.from_file(key_file)
    second = KeyRing.from_file(key_file)
    assert first.add_version() == 2
    assert second.add_version() == 3
    assert KeyRing.from_file(key_file).versions == [1, 2, 3]


def test_refresh_without_a_file_does_nothing() -> None:
    assert KeyRing({1: os.urandom(32)}, os.urandom(32)).refresh() is False


def test_refresh_keeps_loaded_keys_when_the_file_is_gone(key_file: Path) -> None:
    ring = KeyRing.from_file(key_file)
    key_file.unlink()
    assert ring.refresh() is False
    assert ring.versions == [1]


def test_refresh_refuses_a_changed_derivation_key(key_file: Path) -> None:
    ring = KeyRing.from_file(key_file)
    purpose_key = ring.purpose_key("blind-index")
    KeyRing.create_file(key_file.with_name("other.json"))
    os.replace(key_file.with_name("other.json"), key_file)  # a different ring copied in
    with pytest.raises(KeyRingError, match="derivation key"):
        ring.refresh()
    assert ring.purpose_key("blind-index") == purpose_key


def test_remove_version_refuses_the_current_version(key_file: Path) -> None:
    ring = KeyRing.from_file(key_file)
    ring.add_version()
    with pytest.raises(KeyRingError, match="current version"):
        ring.remove_version(2)
    assert KeyRing.from_file(key_file).versions == [1, 2]


def test_remove_version_rewrites_the_file(key_file: Path) -> None:
    ring = KeyRing.from_file(key_file)
    version, wrapped = ring.wrap(b"a" * 32, "case-1")
    ring.add_version()
    ring.remove_version(1)
    assert ring.versions == [2]
    reloaded = KeyRing.from_file(key_file)
    assert reloaded.versions == [2]
    with pytest.raises(UnknownKeyVersion):
        reloaded.unwrap(version, wrapped, "case-1")
    if os.name == "posix":
        assert _mode(key_file) == 0o600


def test_remove_version_refuses_an_unknown_version(key_file: Path) -> None:
    with pytest.raises(UnknownKeyVersion):
        KeyRing.from_file(key_file).remove_version(5)


def test_purpose_keys_differ_per_purpose_and_from_the_inputs(key_file: Path) -> None:
    ring = KeyRing.from_file(key_file)
    keys = [ring.purpose_key(p) for p in ("blind-index", "audit-chain", "blind-indeX")]
    assert len(set(keys)) == 3
    assert {len(key) for key in keys} == {32}
    assert not set(keys) & {base64.b64decode(v) for v in json.loads(ring.to_json())["master_keys"].values()}


def test_purpose_keys_survive_reload_and_rotation(key_file: Path) -> None:
    ring = KeyRing.from_file(key_file)
    before = ring.purpose_key("blind-index")
    ring.add_version()
    ring.remove_version(1)
    assert ring.purpose_key("blind-index") == before
    assert KeyRing.from_file(key_file).purpose_key("blind-index") == before


def test_purpose_key_needs_a_purpose() -> None:
    with pytest.raises(ValueError, match="purpose"):
        KeyRing({1: os.urandom(32)}, os.urandom(32)).purpose_key("")


def test_key_ring_errors_survive_pickling() -> None:
    for error in (UnknownKeyVersion(3), DataKeyUnwrapError("case-1", 2)):
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
        assert str(copy) == str(error)
