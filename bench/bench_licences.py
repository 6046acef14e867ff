"""E-seals throughput: offline QR verification, SM2 signing, and sealing a document through the service.

* ``licences.verify_per_s``: ``verify_qr_payload`` on distinct payloads against a trust list of 50 keys,
  one thread (decode, key lookup, one SM2 verification each). ``licences.verify_per_s_2threads`` is the same
  with two threads (Tongsuo runs with the interpreter lock released), as a verifier server would, and
  ``licences.verify_per_s_procs`` with one process per core (verifications are independent: a verifier
  serving many scanners runs one worker per core). ``licences.verify_per_cpu_s`` is the single-thread figure
  per second of CPU time (less disturbed by other work on a shared machine).
* ``licences.sign_per_s``: signing QR payloads (encode + one SM2 signature), no database.
* ``licences.seal_document_per_s``: ``seal_document`` with the key store and a fresh SQLite database
  (seal lookup, SM3 of a 20 KB document, SM2 signature, canonical structure).
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace

from _setup import bench, django_with_seed

PAYLOADS = 2000
MIN_SECONDS = 2.0


# Set before the pool forks, so the workers inherit the trust list instead of receiving it per batch.
_TRUST: object = None
_NOW: object = None


def _verify_batch(batch: list[str]) -> int:
    from yiwang.licences.services import qr

    return sum(qr.verify_qr_payload(text, _TRUST, now=_NOW).ok for text in batch)  # type: ignore[arg-type]


def verify_rate_in_processes(payloads: list[str], trust: object, now: object) -> tuple[int, float]:
    """Verifications per second with one forked process per core, each verifying its share of the payloads."""
    global _TRUST, _NOW
    _TRUST, _NOW = trust, now
    workers = os.cpu_count() or 1
    with ProcessPoolExecutor(max_workers=workers) as pool:
        parts = [payloads[i::workers] for i in range(workers)]
        assert sum(pool.map(_verify_batch, parts)) == PAYLOADS  # workers started and warm
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < MIN_SECONDS:
            assert sum(pool.map(_verify_batch, parts)) == PAYLOADS
            done += PAYLOADS
        return workers, done / (time.perf_counter() - started)


def seal_document_rate() -> float:
    """``seal_document`` calls per second on a 20 KB document (SQLite, file key store)."""
    from yiwang.directory.services import create_department_if_missing
    from yiwang.licences.services import seals

    create_department_if_missing(
        code="market", division_code="440300", division_name="示范市", division_level="city", name="示范市市场监管局"
    )
    seals.create_seal("market")
    document = os.urandom(20_000)
    seals.seal_document(department_code="market", content=document)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < MIN_SECONDS:
        seals.seal_document(department_code="market", content=document)
        count += 1
    return count / (time.perf_counter() - started)


def main() -> None:
    os.environ.setdefault("YIWANG_VAR_DIR", tempfile.mkdtemp(prefix="yiwang-bench-"))
    os.environ["YIWANG_KEY_STORE_KEY"] = base64.b64encode(os.urandom(16)).decode()
    django_with_seed(seed=False)
    from yiwang.core import sm2
    from yiwang.licences.services import qr
    from yiwang.licences.services.seal_types import QrClaims, TrustedKey, TrustList

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    keys = {}
    privates = []
    for index in range(50):
        private = sm2.generate_private_key()
        public = sm2.public_key_der(private)
        privates.append(private)
        keys[sm2.key_id(public)] = TrustedKey(
            key_id=sm2.key_id(public), public_key_der=public, owner_kind="seal", owner_id=f"seal-{index}",
            owner_name="示范市市场监督管理局", department_code="market",
            valid_from=now - dt.timedelta(days=1), valid_to=now + dt.timedelta(days=365),
        )  # fmt: skip
    trust = TrustList("bench", "基准平台", now, now + dt.timedelta(days=7), "00" * 16, keys)
    key_ids = list(keys)
    base = QrClaims(
        licence_id="", licence_type="食品经营许可证", holder_name="张*", holder_id_digest=b"\x01" * 16,
        issued_on=now.date(), expires_on=now.date() + dt.timedelta(days=1800), document_digest=b"\x02" * 32,
        fields=(("经营者名称", "某某餐饮店"), ("经营项目", "热食类食品制售")), platform_id="bench", signed_at=now,
    )  # fmt: skip

    def claims(i: int) -> QrClaims:
        return replace(base, licence_id=f"44030020261207{i:06d}", key_id=key_ids[i % 50])

    started = time.perf_counter()
    payloads = [qr.encode_signed(claims(i), privates[i % 50]) for i in range(PAYLOADS)]
    sign_rate = PAYLOADS / (time.perf_counter() - started)
    print(f"{PAYLOADS} payloads, mean {sum(map(len, payloads)) / PAYLOADS:.0f} characters", file=sys.stderr)

    def verify_all(batch: list[str]) -> int:
        ok = 0
        for text in batch:
            ok += qr.verify_qr_payload(text, trust, now=now).ok
        return ok

    assert verify_all(payloads[:10]) == 10
    done, started, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < MIN_SECONDS:
        assert verify_all(payloads) == PAYLOADS
        done += PAYLOADS
    verify_rate = done / (time.perf_counter() - started)
    verify_cpu_rate = done / (time.process_time() - cpu)

    with ThreadPoolExecutor(max_workers=2) as pool:
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < MIN_SECONDS:
            halves = [payloads[: PAYLOADS // 2], payloads[PAYLOADS // 2 :]]
            assert sum(pool.map(verify_all, halves)) == PAYLOADS
            done += PAYLOADS
        verify_2_rate = done / (time.perf_counter() - started)

    workers, verify_procs_rate = verify_rate_in_processes(payloads, trust, now)
    seal_rate = seal_document_rate()

    bench("licences.verify_per_s", verify_rate, "verifications/s")
    bench("licences.verify_per_cpu_s", verify_cpu_rate, "verifications/CPU s")
    bench("licences.verify_per_s_2threads", verify_2_rate, "verifications/s")
    bench("licences.verify_per_s_procs", verify_procs_rate, f"verifications/s ({workers} processes)")
    bench("licences.sign_per_s", sign_rate, "signatures/s")
    bench("licences.seal_document_per_s", seal_rate, "documents/s")


if __name__ == "__main__":
    main()
