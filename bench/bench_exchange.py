"""Node-to-node exchange: signed and logged round trips between two nodes over HTTP, and verifying a 1M-entry log.

Node A is this process (its own SQLite file, key and log); node B is a real ``yiwang serve`` with its
own: 2 worker processes of 4 threads each (gunicorn's gthread worker, which keeps A's connections alive
between messages, as a production node serving peers would run). Each exchange is a full
``services.send``: A signs, POSTs, B checks signature, key, time, digest and nonce, answers signed,
logs both; A checks the answer and logs both. Client threads send
for a fixed time; the figures are exchanges per second and the 95th percentile of one exchange.

It also prints the CPU time both nodes spend per exchange (this process plus B's server processes),
which says what the machine could do when nobody else loads it.

Then one million log entries (realistic field sizes, a signed checkpoint every 1,000, as by default)
are written straight into a fresh database and ``verify-log``'s check is timed over them.

``python bench/bench_exchange.py [seconds] [threads] [entries] [server threads]``; defaults 10, 4,
1,000,000 and 4 (1 serves B with gunicorn's sync worker, one connection per message; 0 entries skips
the log check).
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from _setup import bench

YIWANG = Path(sys.executable).with_name("yiwang")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _node_env(var_dir: Path, code: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "YIWANG_KEY_STORE_KEY"}}
    env.update(YIWANG_VAR_DIR=str(var_dir), YIWANG_EXCHANGE_NODE_CODE=code, YIWANG_EMBEDDED_WORKER="0")
    return env


def _run(env: dict[str, str], *args: str) -> str:
    return subprocess.run([str(YIWANG), *args], env=env, capture_output=True, text=True, check=True).stdout


def _start_b(var_dir: Path, threads: int) -> tuple[subprocess.Popen[bytes], str, dict[str, str], str]:
    env = _node_env(var_dir, "bench-b")
    _run(env, "migrate", "--noinput")
    public = _run(env, "exchange", "identity").split("public_key ")[1].strip()
    port = _free_port()
    log = (var_dir / "serve.log").open("wb")
    server = subprocess.Popen(
        [str(YIWANG), "serve", "--port", str(port), "--workers", "2", "--threads", str(threads)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):  # noqa: S310  (127.0.0.1 only)
                return server, base, env, public
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit("node B did not start; see " + str(var_dir / "serve.log"))


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children, from /proc (Linux)."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (OSError, IndexError, ValueError):
        return total
    return total + sum(_cpu_seconds(int(child)) for child in children)


def _exchanges(seconds: float, threads: int) -> tuple[int, list[float], int]:
    from django.db import connections

    from yiwang.exchange.nodes import services

    latencies: list[list[float]] = [[] for _ in range(threads)]
    failures = [0] * threads
    stop = time.perf_counter() + seconds

    def client(index: int) -> None:
        try:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                try:
                    services.send("bench-b", "ping", {"echo": "基准", "n": index})
                except services.ExchangeError as exc:
                    failures[index] += 1
                    print(f"failed: {exc.code} {exc.message}", file=sys.stderr)
                    continue
                latencies[index].append((time.perf_counter() - started) * 1000)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    flat = [value for chunk in latencies for value in chunk]
    return len(flat), flat, sum(failures)


def _fill_log(entries: int) -> None:
    """``entries`` log entries with the sizes real ones have, hashed and checkpointed as ``log.append`` does."""
    from django.db import connection, transaction

    from yiwang.exchange.nodes import keys, log
    from yiwang.exchange.nodes.models import GENESIS_HASH, LogCheckpoint, LogEntry, LogHead

    signer = keys.signer()
    table = LogEntry._meta.db_table
    columns = ["sequence", "logged_at", *log.HASHED_FIELDS, "prev_hash", "entry_hash"]
    insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    base_text = (
        '"@method": POST\n"@target-uri": http://127.0.0.1:8001/exchange/v1/messages\n'
        '"content-digest": sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:\n'
        '"content-type": application/json\n"exchange-from": bench-a\n"exchange-to": bench-b\n'
        '"exchange-kind": ping\n"exchange-message-id": {id}\n"@signature-params": ("@method" "@target-uri" '
        '"content-digest" "content-type" "exchange-from" "exchange-to" "exchange-kind" "exchange-message-id")'
        ';created=1796000000;nonce="abcdefghijklmnopqrstuv";keyid="bench-a:0123456789abcdef";alg="ed25519"'
        ';tag="yiwang-exchange-request"'
    )
    signature = base64.b64encode(b"s" * 64).decode()
    start = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    previous, batch, checkpoints = GENESIS_HASH, [], []
    adapt = connection.ops.adapt_datetimefield_value
    with transaction.atomic(), connection.cursor() as cursor:
        for sequence in range(1, entries + 1):
            moment = start + dt.timedelta(microseconds=sequence * 1000)
            message_id = f"{sequence:032x}"
            fields = (
                "sent" if sequence % 2 else "received",
                "request",
                "bench-b",
                message_id,
                "ping",
                "0" * 64,
                base_text.format(id=message_id),
                signature,
                "ok",
            )
            previous_hash, previous = previous, log.entry_hash(previous, sequence, log.iso(moment), fields)
            batch.append((sequence, adapt(moment), *fields, previous_hash, previous))
            if sequence % 1000 == 0:
                text = log.checkpoint_text(signer.node_code, sequence, previous, log.iso(moment))
                checkpoints.append(
                    LogCheckpoint(
                        sequence=sequence,
                        head_hash=previous,
                        signed_at=moment,
                        node_code=signer.node_code,
                        key_fingerprint=signer.fingerprint,
                        signature=base64.b64encode(signer.private_key.sign(text)).decode(),
                    )
                )
            if len(batch) == 10_000:
                cursor.executemany(insert, batch)
                batch = []
        if batch:
            cursor.executemany(insert, batch)
        LogCheckpoint.objects.bulk_create(checkpoints, batch_size=1000)
        head = {"sequence": entries, "entry_hash": previous}
        LogHead.objects.update_or_create(pk=LogHead.SINGLETON_PK, defaults=head)


def _log_verify_in_fresh_node(entries: int) -> None:
    """A process of its own for the million-entry log (its own database), so the figure is the check alone."""
    var_dir = Path(tempfile.mkdtemp(prefix="yiwang-bench-exchange-log-"))
    try:
        env = _node_env(var_dir, "bench-log")
        _run(env, "migrate", "--noinput")
        script = Path(__file__).resolve()
        subprocess.run([sys.executable, str(script), "--log-only", str(entries)], env=env, check=True)
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


def _log_only(entries: int) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")
    django.setup()
    from yiwang.exchange.nodes import services

    started = time.perf_counter()
    _fill_log(entries)
    print(f"wrote {entries} entries in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    started = time.perf_counter()
    result = services.verify_log()
    elapsed = time.perf_counter() - started
    assert result.ok and result.checked == entries, result
    print(f"verified {result.checked} entries and {result.checkpoints} signed checkpoints", file=sys.stderr)
    bench(f"exchange.log_verify_s_{_millions(entries)}", elapsed, "s")


def _millions(entries: int) -> str:
    return "1m" if entries == 1_000_000 else f"{entries}"


def main(seconds: float, threads: int, entries: int, server_threads: int) -> None:
    a_dir = Path(tempfile.mkdtemp(prefix="yiwang-bench-exchange-a-"))
    b_dir = Path(tempfile.mkdtemp(prefix="yiwang-bench-exchange-b-"))
    server = None
    try:
        os.environ.update(_node_env(a_dir, "bench-a"))
        os.environ.pop("DATABASE_URL", None)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        from yiwang.exchange.nodes import services

        server, base, b_env, b_public = _start_b(b_dir, server_threads)
        services.add_peer("bench-b", base, b_public)
        _run(b_env, "exchange", "add-peer", "bench-a", "http://127.0.0.1:9", services.identity().public_key)
        for _ in range(50):  # warm both sides (connections, imports, first key loads)
            services.send("bench-b", "ping", {})
        cpu_before = time.process_time() + _cpu_seconds(server.pid)
        count, latencies, failures = _exchanges(seconds, threads)
        cpu_ms = (time.process_time() + _cpu_seconds(server.pid) - cpu_before) * 1000 / max(count, 1)
        print(
            f"{count} exchanges in {seconds:.0f} s with {threads} threads, {failures} failed;"
            f" B: 2 workers of {server_threads} threads",
            file=sys.stderr,
        )
        bench("exchange.signed_requests_per_s", count / seconds, "req/s")
        bench("exchange.p95_ms", statistics.quantiles(latencies, n=100)[94], "ms")
        bench("exchange.p50_ms", statistics.median(latencies), "ms")
        # CPU of both nodes per exchange: what the exchange costs whatever else loads the machine.
        bench("exchange.cpu_ms_per_exchange", cpu_ms, "ms")
        assert services.verify_log().ok
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(a_dir, ignore_errors=True)
        shutil.rmtree(b_dir, ignore_errors=True)
    if entries:
        _log_verify_in_fresh_node(entries)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--log-only":
        _log_only(int(sys.argv[2]))
    else:
        args = sys.argv[1:]
        main(
            float(args[0]) if args else 10.0,
            int(args[1]) if len(args) > 1 else 4,
            int(args[2]) if len(args) > 2 else 1_000_000,
            int(args[3]) if len(args) > 3 else 4,
        )
