"""Personal-data protection throughput: SM4-GCM encrypt and decrypt, HMAC-SM3 blind index.

In-process and without the database: each operation runs in a loop for at
least a second on realistic values (an 18-character ID number, an 11-digit
mobile number, a Chinese name), under fixed throw-away keys.
"""

from __future__ import annotations

import base64
import os
import sys
import tempfile
import time
from collections.abc import Callable

from _setup import REPO, bench

VALUES = ["11010519491231002X", "13812345678", "欧阳娜娜", "990102199003071233", "广东省深圳市南山区科技园路1号"]
MIN_SECONDS = 1.0


def rate(operation: Callable[[str], object], inputs: list[str]) -> float:
    """Operations per second of ``operation`` over ``inputs``, timed for at least MIN_SECONDS."""
    for value in inputs:  # warm up
        operation(value)
    done, started = 0, time.perf_counter()
    while True:
        for value in inputs:
            operation(value)
        done += len(inputs)
        elapsed = time.perf_counter() - started
        if elapsed >= MIN_SECONDS:
            return done / elapsed


def main() -> None:
    # Fixed random keys so that no key file is written anywhere.
    os.environ["YIWANG_PII_KEYS"] = "bench:" + base64.b64encode(os.urandom(16)).decode()
    os.environ["YIWANG_BLIND_INDEX_KEY"] = base64.b64encode(os.urandom(32)).decode()
    os.environ.setdefault("YIWANG_VAR_DIR", tempfile.mkdtemp(prefix="yiwang-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")
    sys.path.insert(0, str(REPO / "src"))
    import django

    django.setup()
    from yiwang.core import crypto

    tokens = [crypto.encrypt(value) for value in VALUES]
    assert [crypto.decrypt(token) for token in tokens] == VALUES
    encrypt_rate = rate(crypto.encrypt, VALUES)
    decrypt_rate = rate(crypto.decrypt, tokens)
    index_rate = rate(lambda value: crypto.blind_index(value, "id_number"), VALUES)
    print(f"{len(VALUES)} values, mean {sum(map(len, tokens)) / len(tokens):.0f}-character tokens", file=sys.stderr)
    bench("pii.encrypt_per_s", encrypt_rate, "ops/s")
    bench("pii.decrypt_per_s", decrypt_rate, "ops/s")
    bench("pii.blind_index_per_s", index_rate, "ops/s")


if __name__ == "__main__":
    main()
