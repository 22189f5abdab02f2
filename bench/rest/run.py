"""REST throughput: loom routes vs hand-written django-ninja vs DRF, WSGI and ASGI, same run.

Starts the example store twice on a fresh PostgreSQL database, both with ``--workers``
processes: gunicorn sync workers (WSGI, persistent DB connections) and uvicorn workers
(ASGI, loom's handler from ``loom_django.asgi``, psycopg's pool). Seeds 1,000 products,
then drives five scenarios with wrk on loopback at each ``--connections`` count (fixed
duration per run; each target runs ``--rounds`` times in rotating order and its best run
is reported, which damps interference from other load on the machine):

    get      GET /products/{id}
    offset   offset list with count, limit 20
    cursor   cursor list, limit 20 (pages reached through real next-cursor tokens)
    patch    PATCH /products/{id} {"stock": n}
    post     POST /users (unique emails; name/email rules and the uniqueness check)

Targets, all in the same URLconf: (a) loom under ``/api/``, (b) hand-written django-ninja
under ``/ninja/``, (c) DRF ModelViewSets under ``/drf/``, all three under WSGI, and
``loom-asgi`` (plus ``--asgi-targets ninja,drf``) under ASGI. Prints requests/s and p99
latency per scenario and target, and the ratios a/b, a/c and ASGI/WSGI; then the CPU the
server's processes spent per request (the least over the rounds; the database's CPU is not
counted) and the same ratios by CPU, which move far less than requests/s when other work
shares the machine.
``--asgi-handler django`` serves the ASGI column with Django's own handler instead.

    python bench/rest/run.py [--connections 16,64] [--duration 4] [--rounds 2] [--warmup 1]

With the defaults (5 scenarios, 2 connection counts, 4 targets) it takes about 7 minutes:
scenarios * connection counts * targets * (rounds * duration + warmup) seconds, plus
about 20 s of setup. ``--scenarios get --connections 16 --rounds 1`` is a one-minute smoke run.

Needs PostgreSQL (``LOOM_BENCH_DATABASE_URL``, default postgres://postgres@127.0.0.1:5432/postgres),
wrk (``apt-get install wrk``), uvicorn and djangorestframework (the ``dev`` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example_project"
PRODUCTS = 1000
TARGETS = ("loom", "ninja", "drf")
SCENARIOS = ("get", "offset", "cursor", "patch", "post")
RUN_ID = uuid.uuid4().hex[:8]
ASGI_APPS = {"loom": "bench.rest.asgi:application", "django": "bench.rest.asgi:django_application"}

PATHS: dict[str, dict[str, str]] = {
    "loom": {
        "get": "/api/products/%d",
        "offset": "/api/products/?pagination=offset&limit=20&page=%d",
        "cursor": "/api/products/?limit=20",
        "patch": "/api/products/%d",
        "post": "/api/users/",
    },
    "ninja": {
        "get": "/ninja/products/%d",
        "offset": "/ninja/products/?limit=20&page=%d",
        "cursor": "/ninja/cursor-products/?limit=20",
        "patch": "/ninja/products/%d",
        "post": "/ninja/users/",
    },
    "drf": {
        "get": "/drf/products/%d/",
        "offset": "/drf/products/?limit=20&page=%d",
        "cursor": "/drf/cursor-products/",
        "patch": "/drf/products/%d/",
        "post": "/drf/users/",
    },
}
CURSOR_PARAM = {"loom": "after", "ninja": "after", "drf": "cursor"}

SEED = f"""
import django
django.setup()
from django.apps import apps
Product = apps.get_model("store", "Product")
Product.objects.bulk_create(
    Product(sku=f"SKU-{{i:05d}}", name=f"Product {{i}}", category="peripherals",
            price_cents=100 + i, stock=i % 50)
    for i in range({PRODUCTS})
)
"""


def _env(database_url: str, server: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LOOM_BENCH_SERVER=server,
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="bench.rest.settings",
        PYTHONPATH=os.pathsep.join([str(ROOT), str(EXAMPLE)]),
        DJANGO_DEBUG="false",
    )
    return env


def _create_database(admin_url: str) -> str:
    import psycopg

    name = f"loom_bench_{RUN_ID}"
    with psycopg.connect(admin_url.replace("postgres://", "postgresql://"), autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rpartition("/")[0] + "/" + name


def _drop_database(admin_url: str, url: str) -> None:
    import psycopg

    name = url.rpartition("/")[2]
    with psycopg.connect(admin_url.replace("postgres://", "postgresql://"), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _fetch(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _wait(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited during startup")
        try:
            if _fetch(base + "/api/openapi.json")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the server did not start in 60 s")


def _cursor_tokens(base: str, target: str, pages: int = 30) -> list[str]:
    tokens = [""]
    path = PATHS[target]["cursor"]
    url = base + path
    for _ in range(pages):
        status, data = _fetch(url)
        if status != 200:
            raise RuntimeError(f"{target} cursor list answered {status}: {data!r}")
        if target == "drf":
            nxt = data.get("next")
            if not nxt:
                break
            token = re.search(r"cursor=([^&]+)", nxt).group(1)  # type: ignore[union-attr]
            url = nxt
        else:
            token = data.get("nextCursor") or data.get("next_cursor")
            if not token:
                break
            sep = "&" if "?" in path else "?"
            url = f"{base}{path}{sep}{CURSOR_PARAM[target]}={token}"
        tokens.append(token)
    return tokens


def _lua(target: str, scenario: str, tokens: list[str]) -> str:
    path = PATHS[target][scenario]
    head = """
local counter = 0
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
function init(args)
  math.randomseed((tid or 1) * 7919 + os.time())
end
local headers = {["Content-Type"] = "application/json"}
"""
    if scenario in ("get", "offset"):
        top = PRODUCTS if scenario == "get" else PRODUCTS // 20
        low = 1
        body = f"""
request = function()
  return wrk.format("GET", string.format("{path}", math.random({low}, {top})), headers, nil)
end
"""
    elif scenario == "cursor":
        sep = "&" if "?" in path else "?"
        items = ", ".join(json.dumps(t) for t in tokens)
        body = f"""
local tokens = {{{items}}}
request = function()
  local token = tokens[math.random(1, #tokens)]
  local path = "{path}"
  if token ~= "" then path = path .. "{sep}{CURSOR_PARAM[target]}=" .. token end
  return wrk.format("GET", path, headers, nil)
end
"""
    elif scenario == "patch":
        body = f"""
request = function()
  local id = math.random(1, {PRODUCTS})
  local payload = string.format('{{"stock": %d}}', math.random(0, 100))
  return wrk.format("PATCH", string.format("{path}", id), headers, payload)
end
"""
    else:
        body = f"""
request = function()
  counter = counter + 1
  local payload = string.format(
    '{{"full_name": "Bench User", "email": "{target}-{RUN_ID}-%d-%d-%d@example.com"}}',
    tid or 0, counter, math.random(1, 1000000000))
  return wrk.format("POST", "{path}", headers, payload)
end
"""
    return head + body


def _check(base: str, target: str) -> None:
    paths = PATHS[_views(target)]
    probes = [
        ("GET", paths["get"] % 1, None),
        ("GET", paths["offset"] % 1, None),
        ("GET", paths["cursor"], None),
        ("PATCH", paths["patch"] % 1, {"stock": 3}),
        ("POST", paths["post"], {"full_name": "Probe", "email": f"probe-{target}-{RUN_ID}@ex.com"}),
    ]
    for method, path, payload in probes:
        status, data = _fetch(base + path, method, payload)
        if status >= 300:
            raise RuntimeError(f"{target} {method} {path} answered {status}: {data!r}")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
_TICK = 1 / os.sysconf("SC_CLK_TCK")


def _tree_cpu(root: int) -> float:
    """CPU seconds (user + system) spent so far by ``root`` and every live descendant: a
    server's master and its workers, whatever the worker model."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rpartition(")")[2].split()
        except OSError:
            continue  # exited while we looked
        # After the command name: state, ppid, ..., utime (12th), stime (13th).
        stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) * _TICK)
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        total += stats.get(pid, (0, 0.0))[1]
        stack.extend(children.get(pid, ()))
    return total


def _wrk(base: str, script: str, duration: int, connections: int, server: int) -> dict[str, float]:
    """One wrk run against ``base``: requests/s, p99, non-2xx count, requests, and the
    CPU the ``server`` process tree spent per request (µs; the database's not included)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        path = handle.name
    cpu_before = _tree_cpu(server)
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{duration}s",
                "--latency",
                "--timeout",
                "5s",
                "-s",
                path,
                base,
            ],
            capture_output=True,
            text=True,
            timeout=duration + 30,
            check=True,
        ).stdout
    finally:
        os.unlink(path)
    cpu = _tree_cpu(server) - cpu_before
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "rps": rps,
        "p99_ms": float(p99.group(1)) * _UNITS[p99.group(2)] if p99 else float("nan"),
        "non_2xx": float(errors.group(1)) if errors else 0.0,
        "requests": float(total.group(1)) if total else 0.0,
        "cpu_us": cpu / float(total.group(1)) * 1e6 if total else float("nan"),
    }


def _server_command(server: str, port: int, args: argparse.Namespace) -> list[str]:
    bin_dir = Path(sys.executable).parent
    if server == "wsgi":
        return [
            str(bin_dir / "gunicorn"),
            "config.wsgi:application",
            *("-b", f"127.0.0.1:{port}", "-w", str(args.workers), "-k", "sync"),
            *("--log-level", "warning"),
        ]
    app = ASGI_APPS[args.asgi_handler]
    return [
        str(bin_dir / "uvicorn"),
        app,
        *("--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)),
        *("--log-level", "warning", "--no-access-log"),
    ]


def _start(server: str, database: str, args: argparse.Namespace) -> tuple[str, Any]:
    port = 18000 + (os.getpid() + (500 if server == "asgi" else 0)) % 1000
    process = subprocess.Popen(
        _server_command(server, port, args), cwd=EXAMPLE, env=_env(database, server)
    )
    base = f"http://127.0.0.1:{port}"
    _wait(base, process)
    return base, process


def _measure(
    bases: dict[str, str],
    servers: dict[str, int],
    tokens: dict[str, list[str]],
    scenario: str,
    connections: int,
    args: argparse.Namespace,
) -> dict[str, dict[str, float]]:
    """Best run of each target for one scenario at one connection count: the run with the
    most requests/s, and the least server CPU per request seen over the rounds."""
    targets = tuple(bases)
    scripts = {t: _lua(_views(t), scenario, tokens[t]) for t in targets}
    for target in targets if args.warmup else ():
        _wrk(bases[target], scripts[target], args.warmup, connections, servers[target])
    runs: dict[str, list[dict[str, float]]] = {target: [] for target in targets}
    for round_ in range(args.rounds):
        shift = round_ % len(targets)
        for target in targets[shift:] + targets[:shift]:
            run = _wrk(bases[target], scripts[target], args.duration, connections, servers[target])
            runs[target].append(run)
    best: dict[str, dict[str, float]] = {}
    for target in targets:
        best[target] = dict(max(runs[target], key=lambda run: run["rps"]))
        best[target]["cpu_us"] = min(run["cpu_us"] for run in runs[target])
    return best


def _views(target: str) -> str:
    """``loom-asgi`` → ``loom``: the URL family a target is served under."""
    return target.partition("-")[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", default="16,64", help="comma-separated wrk -c values")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help="comma-separated subset of " + ", ".join(SCENARIOS),
    )
    parser.add_argument(
        "--asgi-targets",
        default="loom",
        help="view families also served under ASGI (loom, ninja, drf; '' for none)",
    )
    parser.add_argument("--asgi-handler", choices=sorted(ASGI_APPS), default="loom")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2
    connection_counts = [int(c) for c in args.connections.split(",") if c]
    asgi_targets = [f"{t}-asgi" for t in args.asgi_targets.split(",") if t in TARGETS]
    admin = os.environ.get("LOOM_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    database = _create_database(admin)
    processes: list[Any] = []
    started = time.monotonic()
    try:
        env = _env(database, "wsgi")
        python = sys.executable
        subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=EXAMPLE, env=env, check=True)
        subprocess.run([python, "-c", SEED], cwd=EXAMPLE, env=env, check=True)
        bases: dict[str, str] = {}
        servers: dict[str, int] = {}
        for server in ("wsgi", "asgi") if asgi_targets else ("wsgi",):
            base, process = _start(server, database, args)
            processes.append(process)
            for target in TARGETS if server == "wsgi" else asgi_targets:
                bases[target] = base
                servers[target] = process.pid
        for target, base in bases.items():
            _check(base, target)
        tokens = {t: _cursor_tokens(bases[t], _views(t)) for t in bases}
        results: dict[int, dict[str, dict[str, dict[str, float]]]] = {}
        for connections in connection_counts:
            results[connections] = {
                scenario: _measure(bases, servers, tokens, scenario, connections, args)
                for scenario in [name for name in args.scenarios.split(",") if name in SCENARIOS]
            }
        _report(results, args, time.monotonic() - started)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)
        _drop_database(admin, database)
    return 0


def _ratio(row: dict[str, dict[str, float]], a: str, b: str) -> float:
    return row[a]["rps"] / row[b]["rps"]


def _report(
    results: dict[int, dict[str, dict[str, dict[str, float]]]],
    args: argparse.Namespace,
    elapsed: float,
) -> None:
    print(
        f"{args.workers} workers: gunicorn sync (WSGI) and uvicorn (ASGI, "
        f"{ASGI_APPS[args.asgi_handler]}); wrk -t2 -d{args.duration}s, best of "
        f"{args.rounds} rounds; PostgreSQL, {PRODUCTS} products; took {elapsed:.0f} s"
    )
    print("a = loom, b = hand-written ninja, c = DRF (all WSGI); columns suffixed -asgi: ASGI")
    for connections, table in results.items():
        targets = list(next(iter(table.values())))
        print(f"\n{connections} connections")
        header = f"{'scenario':<8}" + "".join(f" {t + ' rps':>15} {'p99 ms':>7}" for t in targets)
        ratios = ["a/b", "a/c"] + [f"{t}/{_views(t)}" for t in targets if t.endswith("-asgi")]
        header += "".join(f" {r:>15}" for r in ratios)
        print(header)
        print("-" * len(header))
        for scenario, row in table.items():
            line = f"{scenario:<8}" + "".join(
                f" {row[t]['rps']:>15.0f} {row[t]['p99_ms']:>7.2f}" for t in targets
            )
            values = [
                row["loom"]["rps"] / row["ninja"]["rps"],
                row["loom"]["rps"] / row["drf"]["rps"],
            ]
            values += [
                row[t]["rps"] / row[_views(t)]["rps"] for t in targets if t.endswith("-asgi")
            ]
            print(line + "".join(f" {v:>15.2f}" for v in values))
            bad = {t: int(v["non_2xx"]) for t, v in row.items() if v["non_2xx"]}
            if bad:
                print(f"         non-2xx responses: {bad}")
        _report_cpu(table, targets)


def _report_cpu(table: dict[str, dict[str, dict[str, float]]], targets: list[str]) -> None:
    """Server CPU per request and the ratios it gives (the less CPU, the higher): steadier
    than requests/s when other work shares the machine, and blind to the database."""
    header = f"{'cpu µs':<8}" + "".join(f" {t:>15}" for t in targets)
    ratios = ["a/b", "a/c"] + [f"{t}/{_views(t)}" for t in targets if t.endswith("-asgi")]
    print(header + "".join(f" {r:>15}" for r in ratios) + "   (server CPU per request)")
    for scenario, row in table.items():
        line = f"{scenario:<8}" + "".join(f" {row[t]['cpu_us']:>15.0f}" for t in targets)
        values = [
            row["ninja"]["cpu_us"] / row["loom"]["cpu_us"],
            row["drf"]["cpu_us"] / row["loom"]["cpu_us"],
        ]
        values += [
            row[_views(t)]["cpu_us"] / row[t]["cpu_us"] for t in targets if t.endswith("-asgi")
        ]
        print(line + "".join(f" {v:>15.2f}" for v in values))


if __name__ == "__main__":
    sys.exit(main())
