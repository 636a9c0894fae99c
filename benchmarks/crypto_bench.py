"""Measure field encryption, the blind index and folding against raw AES-GCM.

Run: .venv/bin/python benchmarks/crypto_bench.py (after `make install`).
Every figure printed comes from this run; nothing is hard-coded.
"""

from __future__ import annotations

import os
import platform
import statistics
import timeit
import uuid
from collections.abc import Callable
from importlib.metadata import version

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.dialects import postgresql
from sqlalchemy_utils import StringEncryptedType
from sqlalchemy_utils.types.encrypted.encrypted_type import AesGcmEngine

from counsel.crypto import BlindIndex, FieldCipher, associated_data, fold

REPEAT = 7
SECONDS_PER_REPEAT = 0.2
TABLE, COLUMN = "cases", "notes"
NAME, TOKEN = "Fatma Yılmaz", "Yılmaz"
HEADER = f"{'operation':<36}{'median µs':>10}{'min µs':>9}{'× raw':>8}"

Row = tuple[str, float, float, float]


def field_of(size: int) -> str:
    """Build text of exactly `size` UTF-8 bytes, mixing scripts as real notes do."""
    chunk = "Beratung am Dienstag, Ayşe Öztürk, فاطمة, Олена; "
    text = ""
    while len((text + chunk).encode()) <= size:
        text += chunk
    text += "x" * (size - len(text.encode()))
    assert len(text.encode()) == size
    return text


def per_call_us(func: Callable[[], object]) -> tuple[float, float]:
    """Time one call as (median, min) over REPEAT repeats, in microseconds."""
    timer = timeit.Timer(func)
    number, elapsed = timer.autorange()
    number = max(number, int(number * SECONDS_PER_REPEAT / elapsed))
    runs = [t / number * 1e6 for t in timer.repeat(repeat=REPEAT, number=number)]
    return statistics.median(runs), min(runs)


def measure_field(size: int) -> list[Row]:
    """Time every contender on one field size, each against raw AES-GCM."""
    key = os.urandom(32)
    text = field_of(size)
    data = text.encode()
    row_id = str(uuid.uuid4())
    ad = associated_data(TABLE, COLUMN, row_id)

    raw = AESGCM(key)
    nonce = os.urandom(12)
    raw_sealed = raw.encrypt(nonce, data, ad)

    ours = FieldCipher(key)
    blob = ours.encrypt(text, table=TABLE, column=COLUMN, row_id=row_id)
    assert ours.decrypt(blob, table=TABLE, column=COLUMN, row_id=row_id) == text

    dialect = postgresql.dialect()
    utils_type = StringEncryptedType(sa.Unicode, key.hex(), AesGcmEngine)
    utils_sealed = utils_type.process_bind_param(text, dialect)
    assert utils_type.process_result_value(utils_sealed, dialect) == text

    # Explicit keywords, as the app calls FieldCipher; a **dict adds unpacking cost.
    encrypts: list[tuple[str, Callable[[], object]]] = [
        ("raw AESGCM.encrypt", lambda: raw.encrypt(nonce, data, ad)),
        (
            "FieldCipher.encrypt",
            lambda: ours.encrypt(text, table=TABLE, column=COLUMN, row_id=row_id),
        ),
        (
            "sqlalchemy_utils AesGcm bind",
            lambda: utils_type.process_bind_param(text, dialect),
        ),
    ]
    decrypts: list[tuple[str, Callable[[], object]]] = [
        ("raw AESGCM.decrypt", lambda: raw.decrypt(nonce, raw_sealed, ad)),
        (
            "FieldCipher.decrypt",
            lambda: ours.decrypt(blob, table=TABLE, column=COLUMN, row_id=row_id),
        ),
        (
            "sqlalchemy_utils AesGcm result",
            lambda: utils_type.process_result_value(utils_sealed, dialect),
        ),
    ]
    return _against_first(encrypts) + _against_first(decrypts)


def measure_names(baseline_us: float) -> list[Row]:
    """Time folding and the blind index, against a raw 200-byte decrypt."""
    index = BlindIndex(os.urandom(32))
    calls: list[tuple[str, Callable[[], object]]] = [
        (f"fold({NAME!r})", lambda: fold(NAME)),
        (f"BlindIndex.values({NAME!r})", lambda: index.values(NAME, field="client")),
        (f"BlindIndex.query({NAME!r})", lambda: index.query(NAME, field="client")),
        (f"BlindIndex.matches({TOKEN!r}, name)", lambda: BlindIndex.matches(TOKEN, NAME)),
    ]
    rows = []
    for label, func in calls:
        median, best = per_call_us(func)
        rows.append((label, median, best, median / baseline_us))
    return rows


def _against_first(calls: list[tuple[str, Callable[[], object]]]) -> list[Row]:
    timed = [(label, *per_call_us(func)) for label, func in calls]
    baseline = timed[0][1]
    return [(label, median, best, median / baseline) for label, median, best in timed]


def _print_rows(title: str, rows: list[Row]) -> None:
    print(title)
    print(HEADER)
    for label, median, best, ratio in rows:
        print(f"{label:<36}{median:>10.2f}{best:>9.2f}{ratio:>8.2f}")
    print()


def main() -> None:
    """Print versions, the timing tables and the decrypt ratio against its target."""
    print(f"python {platform.python_version()} ({platform.python_implementation()}), ", end="")
    print(f"cryptography {version('cryptography')}, ", end="")
    print(f"sqlalchemy-utils {version('sqlalchemy-utils')}, sqlalchemy {version('sqlalchemy')}")
    print(f"{platform.machine()} {platform.system()}; per call: median and min of {REPEAT} repeats")
    print()
    small = measure_field(200)
    _print_rows("field of 200 UTF-8 bytes (× raw AESGCM of the same direction)", small)
    _print_rows("field of 2048 UTF-8 bytes", measure_field(2048))
    raw_decrypt = next(row for row in small if row[0] == "raw AESGCM.decrypt")
    ours_decrypt = next(row for row in small if row[0] == "FieldCipher.decrypt")
    _print_rows("names (× raw AESGCM.decrypt of 200 bytes)", measure_names(raw_decrypt[1]))
    ratio = ours_decrypt[1] / raw_decrypt[1]
    print(f"decrypt ratio ours/raw = {ratio:.2f} (target <= 3.0)")


if __name__ == "__main__":
    main()
