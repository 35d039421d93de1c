#!/usr/bin/env python3
"""Federated round time and bytes per round: oncolens Rust stations vs Flower Python SuperNodes.

Both sides join a fresh `flower-superlink --insecure` on loopback and serve the same FedAvg
ServerApp (fixtures/flower/app) with a ~1M-parameter model (float32 vector + 6 float64), train
only, for --rounds rounds. The Python side runs 3 `flower-supernode`s executing the app's NumPy
ClientApp; the Rust side runs 3 oncolens nodes (crates/flower/examples/flower_station.rs). Each
node does the same deterministic update. Round time is measured inside the ServerApp
(configure_train -> aggregate_train). Bytes are the SuperLink's own traffic counter for the run
(`flwr ls`: request + response bodies of Fleet and object calls), divided by the number of rounds.

Usage: bench.py --venv VENV --station BIN [--params N] [--rounds R] [--out results.md]
"""

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "fixtures" / "flower" / "app"
TARGETS = [0.1, -0.2, 0.3]
NUM_EXAMPLES = [10, 30, 60]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_group(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=3)
            return
        except subprocess.TimeoutExpired:
            continue


class CountingProxy:
    """TCP proxy on loopback that counts the bytes nodes and SuperLink exchange (HTTP headers
    and bodies, both directions), so both sides' real wire traffic is compared."""

    def __init__(self, target_port: int):
        import asyncio
        import threading

        self.target_port = target_port
        self.up = 0
        self.down = 0
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def pipe(reader, writer, upstream: bool):
            try:
                while data := await reader.read(1 << 16):
                    if upstream:
                        self.up += len(data)
                    else:
                        self.down += len(data)
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                try:
                    writer.close()
                except Exception:  # noqa: BLE001
                    pass

        async def handle(cr, cw):
            try:
                sr, sw = await asyncio.open_connection("127.0.0.1", self.target_port)
            except OSError:
                cw.close()
                return
            await asyncio.gather(pipe(cr, sw, True), pipe(sr, cw, False))

        async def serve():
            server = await asyncio.start_server(handle, "127.0.0.1", self.port)
            ready.set()
            async with server:
                await server.serve_forever()

        self.thread = threading.Thread(
            target=lambda: self.loop.run_until_complete(serve()), daemon=True
        )
        self.thread.start()
        ready.wait(10)

    def total(self) -> int:
        return self.up + self.down


def wait_healthy(port: int, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("SuperLink did not become healthy")


def run_side(side: str, venv: Path, station: Path, params: int, rounds: int, work: Path) -> dict:
    bin_dir = venv / "bin"
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}:{env.get('PATH', '')}"
    home = work / f"home-{side}"
    home.mkdir()
    port = free_port()
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "local"\n\n[superlink.local]\naddress = "127.0.0.1:{port}"\n'
        "insecure = true\n"
    )
    env["FLWR_HOME"] = str(home)
    env["FLWR_TELEMETRY_ENABLED"] = "0"
    env["FLWR_DISABLE_UPDATE_CHECK"] = "1"
    procs = []
    logs = work / f"logs-{side}"
    logs.mkdir()

    def start(name, args):
        fh = open(logs / f"{name}.log", "w")
        p = subprocess.Popen(
            args, env=env, cwd=work, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
        procs.append(p)
        return p

    try:
        start(
            "superlink",
            [str(bin_dir / "flower-superlink"), "--insecure", "--host", "127.0.0.1",
             "--port", str(port), "--disable-runtime-dependency-installation"],
        )
        wait_healthy(port)
        proxy = CountingProxy(port)
        stop_file = work / f"stop-{side}"
        if side == "oncolens":
            node_out = open(logs / "stations.jsonl", "w")
            p = subprocess.Popen(
                [str(station), "--superlink", f"http://127.0.0.1:{proxy.port}", "--nodes", "3",
                 "--stop-file", str(stop_file)],
                env=env, cwd=work, stdout=node_out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            procs.append(p)
            rust_nodes = p
        else:
            for i in range(3):
                start(
                    f"supernode{i}",
                    [str(bin_dir / "flower-supernode"), "--insecure", "--superlink",
                     f"127.0.0.1:{proxy.port}", "--port", str(free_port()), "--node-config",
                     f"target={TARGETS[i]} num-examples={NUM_EXAMPLES[i]}"],
                )
        time.sleep(3)  # let the nodes register before the run samples them
        output = work / f"result-{side}.json"
        run_config = (
            f'output="{output}" num-params={params} num-server-rounds={rounds} '
            "min-nodes=3 run-evaluate=false"
        )
        wire0 = proxy.total()
        t0 = time.perf_counter()
        run = subprocess.run(
            [str(bin_dir / "flwr"), "run", str(work / "app"), "local", "--stream",
             "--run-config", run_config],
            env=env, cwd=work, stdout=open(logs / "flwr-run.log", "w"),
            stderr=subprocess.STDOUT, timeout=1800,
        )
        wall = time.perf_counter() - t0
        wire = proxy.total() - wire0
        if run.returncode != 0 or not output.exists():
            raise RuntimeError(f"{side}: flwr run failed, see {logs}")
        doc = json.loads(output.read_text())
        ls = subprocess.run(
            [str(bin_dir / "flwr"), "ls", "local", "--run-id", str(doc["run_id"]),
             "--format", "json"],
            env=env, cwd=work, capture_output=True, text=True, timeout=60,
        )
        traffic = None
        try:
            info = json.loads(ls.stdout)
            traffic = info["runs"][0]["network-traffic"]
        except (ValueError, KeyError, IndexError):
            print(f"{side}: could not read traffic from flwr ls: {ls.stdout} {ls.stderr}",
                  file=sys.stderr)
        node_bytes = None
        if side == "oncolens":
            stop_file.write_text("stop")
            rust_nodes.wait(timeout=60)
            node_out.close()
            lines = [json.loads(l) for l in (logs / "stations.jsonl").read_text().splitlines()
                     if l.startswith("{")]
            node_bytes = sum(l["bytes_sent"] + l["bytes_received"] for l in lines)
        return {
            "side": side,
            "round_times_s": doc["round_times_s"],
            "wall_s": wall,
            "wire_bytes": wire,
            "traffic": traffic,
            "node_http_body_bytes": node_bytes,
            "w_sum": doc["arrays"]["w"].get("sum"),
        }
    finally:
        for p in reversed(procs):
            kill_group(p)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--venv", required=True, type=Path)
    ap.add_argument("--station", required=True, type=Path)
    ap.add_argument("--params", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results.md"))
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(["cp", "-r", str(APP), str(work / "app")], check=True)
        res = {}
        for side in ("oncolens", "flower"):
            print(f"running {side} ...", file=sys.stderr)
            res[side] = run_side(side, args.venv, args.station, args.params, args.rounds, work)
            print(json.dumps(res[side]), file=sys.stderr)

    def mean(xs):
        return statistics.mean(xs)

    r, f = res["oncolens"], res["flower"]
    rt_r, rt_f = mean(r["round_times_s"]), mean(f["round_times_s"])
    by_r = r["traffic"]["total-bytes"] / args.rounds if r["traffic"] else float("nan")
    by_f = f["traffic"]["total-bytes"] / args.rounds if f["traffic"] else float("nan")
    rel = abs(r["w_sum"] - f["w_sum"]) / max(1.0, abs(f["w_sum"]))
    same = rel <= 1e-6
    import flwr  # noqa: F401  (version for the record)
    from importlib.metadata import version

    lines = [
        "# Federated round: oncolens Rust stations vs Flower Python SuperNodes",
        "",
        f"Command: `bash bench/federated/run.sh` (params={args.params}, rounds={args.rounds}, "
        "3 nodes, train only, loopback, `flower-superlink --insecure`)",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; flwr {version('flwr')}; "
        f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "Same ServerApp (FedAvg, `fixtures/flower/app`), same model (float32 vector of "
        f"{args.params} + 6 float64), same deterministic local update on every node. Round time: "
        "ServerApp's configure_train -> aggregate_train. Bytes: the SuperLink's own traffic "
        "counter for the run (message protos and object contents; equal on both sides because "
        "the Rust objects are byte-identical to flwr's), and the bytes on the wire between the "
        "nodes and the SuperLink (a counting TCP proxy: HTTP headers, bodies, polling and "
        "heartbeats while `flwr run` ran), both divided by the number of rounds.",
        "",
        "| | oncolens (Rust) | Flower (Python) | oncolens / Flower |",
        "|---|---:|---:|---:|",
        f"| mean round time (s) | {rt_r:.2f} | {rt_f:.2f} | {rt_r / rt_f:.2f} |",
        f"| round times (s) | {', '.join(f'{x:.2f}' for x in r['round_times_s'])} | "
        f"{', '.join(f'{x:.2f}' for x in f['round_times_s'])} | |",
        f"| bytes per round (SuperLink counter) | {by_r:,.0f} | {by_f:,.0f} | "
        f"{by_r / by_f:.3f} |",
        f"| bytes per round on the wire (node <-> SuperLink, HTTP incl. polling) | "
        f"{r['wire_bytes'] / args.rounds:,.0f} | {f['wire_bytes'] / args.rounds:,.0f} | "
        f"{r['wire_bytes'] / f['wire_bytes']:.3f} |",
        f"| `flwr run` wall time (s) | {r['wall_s']:.1f} | {f['wall_s']:.1f} | "
        f"{r['wall_s'] / f['wall_s']:.2f} |",
        "",
        f"Same final global model on both sides (sum of w, relative difference {rel:.1e}; "
        f"float32 FedAvg sums replies in arrival order): {'yes' if same else 'NO'} "
        f"({r['w_sum']} vs {f['w_sum']}).",
    ]
    if r["node_http_body_bytes"] is not None:
        lines.append(
            f"oncolens nodes' own count of HTTP body bytes (all rounds, incl. polling and "
            f"heartbeats): {r['node_http_body_bytes']:,}."
        )
    lines += [
        "",
        "Notes: both sides poll the SuperLink (oncolens nodes every 100 ms; Flower's SuperNode "
        "on its own schedule and it starts a `flwr-clientapp` process per message), so round "
        "time is dominated by polling and process start-up rather than by the 1M-parameter "
        "update itself. The ServerApp polls for replies the same way on both sides.",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
