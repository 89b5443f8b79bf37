"""Gateway overhead: direct calls vs through `ondo serve` vs through LiteLLM's proxy, in one run.

A fake OpenAI-compatible backend (raw asyncio, answers at once) runs in its own process on
127.0.0.1. The same client (a lean keep-alive HTTP/1.1 client, so the client is not what is
measured) then calls, in turn: the backend directly, `ondo serve` in front of it (model
"bench@production", resolved through the registry on every request, tracing on), and LiteLLM's
proxy in front of it. For each target:

- latency: sequential requests (one in flight): p50 / p99, and what the proxy adds over direct
- throughput: a bounded number of requests over C keep-alive connections: requests/s

LiteLLM is run from its own virtual environment (its pins would downgrade packages ondo
uses): `--litellm-python PATH` or $ONDO_LITELLM_PYTHON; `--setup-litellm` creates one in
~/.cache/ondo-bench/litellm-venv from benchmarks/requirements-litellm.txt. Without it the
LiteLLM column is skipped (and said so).

    .venv/bin/python benchmarks/gateway_overhead.py [--requests 3000] [--concurrency 32] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BACKEND = REPO / "tests" / "gateway" / "fake_openai_backend.py"
LITELLM_VENV = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ondo-bench" / "litellm-venv"
LITELLM_KEY = "sk-bench-" + os.urandom(16).hex()  # LiteLLM refuses to start without a master key

BODY = json.dumps({"model": "MODEL", "messages": [{"role": "user", "content": "ping"}], "max_tokens": 8})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(port: int, path: str, timeout: float = 120.0, proc: subprocess.Popen[Any] | None = None) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for port {port} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                if r.status < 500:
                    return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered on port {port}{path} within {timeout}s")


# ---------------------------------------------------------------------------------------------
# a lean HTTP/1.1 keep-alive client


class Conn:
    def __init__(self, port: int, model: str, path: str = "/v1/chat/completions",
                 headers: dict[str, str] | None = None) -> None:
        self.port = port
        body = BODY.replace("MODEL", model).encode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.request = (
            f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
            f"{extra}content-length: {len(body)}\r\n\r\n"
        ).encode() + body
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def call(self) -> int:
        assert self.reader is not None and self.writer is not None
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            k = k.strip().lower()
            if k == b"content-length":
                length = int(v)
            elif k == b"transfer-encoding" and b"chunked" in v.lower():
                chunked = True
        if chunked:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def latency(port: int, model: str, n: int, warmup: int, headers: dict[str, str] | None) -> list[float]:
    conn = Conn(port, model, headers=headers)
    await conn.open()
    for _ in range(warmup):
        assert await conn.call() == 200
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        status = await conn.call()
        out.append(time.perf_counter() - t0)
        if status != 200:
            raise RuntimeError(f"HTTP {status} from port {port}")
    conn.close()
    return out


async def throughput(port: int, model: str, total: int, concurrency: int, headers: dict[str, str] | None
                     ) -> tuple[float, int]:
    conns = [Conn(port, model, headers=headers) for _ in range(concurrency)]
    for c in conns:
        await c.open()
    for c in conns:  # warm every connection (and the server's per-connection state)
        await c.call()
    remaining = total
    errors = 0

    async def worker(c: Conn) -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            if await c.call() != 200:
                errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = time.perf_counter() - t0
    for c in conns:
        c.close()
    return total / elapsed, errors


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (Linux /proc): what a request costs the
    server, independent of how busy the rest of the machine is."""
    total = 0
    pids = [pid] + [int(x) for x in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                   text=True).stdout.split()]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


# ---------------------------------------------------------------------------------------------
# the servers


def start_backend(port: int) -> subprocess.Popen[Any]:
    proc = subprocess.Popen([sys.executable, str(BACKEND), str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    # the fake backend has no /healthz; GET /v1/models answers
    wait_http(port, "/v1/models", 30, proc)
    return proc


def start_ondo(port: int, backend_port: int, home: Path) -> subprocess.Popen[Any]:
    env = {**os.environ, "ONDO_HOME": str(home)}
    env.pop("ONDO_STORE_URL", None)
    setup = (
        "from ondo.workspace import Workspace\n"
        "from ondo.registry import models\n"
        "ws = Workspace.default()\n"
        f"models.register(ws, 'bench', api={{'provider': 'openai-compatible', 'model': 'bench', "
        f"'base_url': 'http://127.0.0.1:{backend_port}/v1'}})\n"
        "models.set_alias(ws, 'bench', 'production', 1)\n"
    )
    subprocess.run([sys.executable, "-c", setup], check=True, env=env)
    ondo = shutil.which("ondo", path=str(Path(sys.executable).parent)) or "ondo"
    log = open(home.parent / "ondo-serve.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen([ondo, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    wait_http(port, "/healthz", 60, proc)
    return proc


def litellm_python(arg: str | None) -> str | None:
    for candidate in (arg, os.environ.get("ONDO_LITELLM_PYTHON"), str(LITELLM_VENV / "bin" / "python"),
                      sys.executable):
        if not candidate or not Path(candidate).exists():
            continue
        ok = subprocess.run([candidate, "-c", "import litellm.proxy.proxy_cli"], capture_output=True)
        if ok.returncode == 0:
            return candidate
    return None


def setup_litellm() -> str:
    req = REPO / "benchmarks" / "requirements-litellm.txt"
    py = str(LITELLM_VENV / "bin" / "python")
    if litellm_python(py) == py:
        return py
    subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
    subprocess.run([py, "-m", "pip", "install", "-q", "-r", str(req)], check=True)
    return py


def start_litellm(py: str, port: int, backend_port: int, tmp: Path) -> subprocess.Popen[Any]:
    cfg = tmp / "litellm.yaml"
    cfg.write_text(
        "model_list:\n"
        "  - model_name: bench\n"
        "    litellm_params:\n"
        "      model: openai/bench\n"
        f"      api_base: http://127.0.0.1:{backend_port}/v1\n"
        "      api_key: sk-unused\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
    )
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR",
           "DISABLE_SCHEMA_UPDATE": "true", "LITELLM_MASTER_KEY": LITELLM_KEY}
    proc = subprocess.Popen(
        [py, "-m", "litellm.proxy.proxy_cli", "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port),
         "--num_workers", "1"],
        env=env, stdout=open(tmp / "litellm.log", "wb"), stderr=subprocess.STDOUT, cwd=tmp,  # noqa: SIM115
    )
    wait_http(port, "/health/liveliness", 180, proc)
    return proc


def stop(proc: subprocess.Popen[Any] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def count_spans(home: Path) -> int:
    env = {**os.environ, "ONDO_HOME": str(home)}
    env.pop("ONDO_STORE_URL", None)
    code = "from ondo.traces import count_spans; print(count_spans())"
    return int(subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True,
                              text=True).stdout.strip())


# ---------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=3000, help="requests per throughput measurement")
    ap.add_argument("--latency-requests", type=int, default=2000, help="sequential requests per latency measurement")
    ap.add_argument("--concurrency", type=int, default=32, help="keep-alive connections for throughput")
    ap.add_argument("--litellm-python", default=None, help="python of a venv with litellm[proxy]")
    ap.add_argument("--setup-litellm", action="store_true", help="create the LiteLLM venv first (if missing)")
    ap.add_argument("--skip-litellm", action="store_true")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args()

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    results: dict[str, Any] = {"requests": args.requests, "latency_requests": args.latency_requests,
                               "concurrency": args.concurrency, "cpus": os.cpu_count(),
                               "load_average_at_start": os.getloadavg()[0]}
    procs: list[subprocess.Popen[Any]] = []
    tmp = Path(tempfile.mkdtemp(prefix="ondo-bench-"))
    try:
        backend_port = free_port()
        procs.append(start_backend(backend_port))
        targets: list[tuple[str, int, str, dict[str, str] | None]] = [("direct", backend_port, "bench", None)]
        pids = {"direct": procs[0].pid}

        ondo_port = free_port()
        home = tmp / "ondo-home"
        procs.append(start_ondo(ondo_port, backend_port, home))
        pids["ondo"] = procs[-1].pid
        targets.append(("ondo", ondo_port, "bench@production", None))

        py = None
        if not args.skip_litellm:
            py = setup_litellm() if args.setup_litellm else litellm_python(args.litellm_python)
            if py is None:
                print("LiteLLM proxy not found: pass --litellm-python or --setup-litellm (skipping it)",
                      file=sys.stderr)
            else:
                litellm_port = free_port()
                procs.append(start_litellm(py, litellm_port, backend_port, tmp))
                pids["litellm"] = procs[-1].pid
                targets.append(("litellm", litellm_port, "bench", {"authorization": f"Bearer {LITELLM_KEY}"}))

        sent_to_ondo = 0
        for name, port, model, headers in targets:
            warm = 200
            asyncio.run(latency(port, model, warm, 0, headers))
            cpu0 = cpu_seconds(pids[name])
            lat = asyncio.run(latency(port, model, args.latency_requests, 0, headers))
            cpu_ms = (cpu_seconds(pids[name]) - cpu0) / args.latency_requests * 1000
            rps, errors = asyncio.run(throughput(port, model, args.requests, args.concurrency, headers))
            if name == "ondo":
                sent_to_ondo = warm + args.latency_requests + args.requests + args.concurrency
            results[name] = {
                "p50_ms": pct(lat, 50) * 1000, "p99_ms": pct(lat, 99) * 1000,
                "mean_ms": statistics.fmean(lat) * 1000, "rps": rps, "errors": errors,
                "server_cpu_ms_per_request": cpu_ms,
            }
            print(f"{name:8s} p50 {results[name]['p50_ms']:7.3f} ms  p99 {results[name]['p99_ms']:7.3f} ms  "
                  f"{rps:9.1f} req/s  server CPU {cpu_ms:6.3f} ms/req  errors {errors}", flush=True)
        # every request through ondo was traced (the span writer flushes on shutdown)
        stop(procs.pop(1))
        results["ondo"]["spans_stored"] = count_spans(home)
        results["ondo"]["requests_sent"] = sent_to_ondo
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)

    d, o = results["direct"], results["ondo"]
    results["ondo_added_p50_ms"] = o["p50_ms"] - d["p50_ms"]
    results["ondo_added_p99_ms"] = o["p99_ms"] - d["p99_ms"]
    print(f"ondo adds {results['ondo_added_p50_ms']:.3f} ms at p50, {results['ondo_added_p99_ms']:.3f} ms at p99; "
          f"spans stored {o['spans_stored']} of {o['requests_sent']} requests")
    if "litellm" in results:
        li = results["litellm"]
        results["litellm_added_p50_ms"] = li["p50_ms"] - d["p50_ms"]
        results["litellm_added_p99_ms"] = li["p99_ms"] - d["p99_ms"]
        results["ondo_vs_litellm_rps"] = o["rps"] / li["rps"]
        print(f"litellm adds {results['litellm_added_p50_ms']:.3f} ms at p50, "
              f"{results['litellm_added_p99_ms']:.3f} ms at p99; ondo sustains "
              f"{results['ondo_vs_litellm_rps']:.2f}x LiteLLM's requests/s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    ok = results["ondo_added_p50_ms"] < 1.0 and o["spans_stored"] == o["requests_sent"]
    if "ondo_vs_litellm_rps" in results:
        ok = ok and results["ondo_vs_litellm_rps"] >= 3.0
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
