"""Numbers behind README's performance claims. Run through scripts/bench (it installs things)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cfemu import CloudflareEmulator  # noqa: E402

ENVS = ("staging", "production", "canary")
N_SECRETS = 20


def timed(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
          stdin: bytes | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, input=stdin, check=True, capture_output=True)
    return time.perf_counter() - start


def timed_cpu(argv: list[str], *, env: dict[str, str], cwd: Path | None = None) -> tuple[float, float]:
    """Wall time and CPU time (user + system, the whole process tree) of one run."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = timed(argv, env=env, cwd=cwd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench_env(cf: CloudflareEmulator, home: Path) -> dict[str, str]:
    """wrangler and skclaw against the emulator, in a throwaway HOME (PYTHONPATH kept for worktrees)."""
    return {
        "PATH": os.environ["PATH"], "HOME": str(home), "CLOUDFLARE_API_BASE_URL": cf.base_url,
        "CLOUDFLARE_API_TOKEN": cf.token, "CLOUDFLARE_ACCOUNT_ID": cf.account_id,
        "WRANGLER_SEND_METRICS": "false", "WRANGLER_HIDE_BANNER": "true", "NO_PROXY": "127.0.0.1",
        **{k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ},
    }


def bench_help(runs: int = 15) -> None:
    python = sys.executable
    skclaw = str(Path(python).parent / "skclaw")
    timed([skclaw, "--help"])  # warm caches
    help_times = [timed([skclaw, "--help"]) for _ in range(runs)]
    click_times = [timed([python, "-c", "import click"]) for _ in range(runs)]
    h, c = statistics.median(help_times), statistics.median(click_times)
    print(f"startup ({runs} runs, median)")
    print(f"  skclaw --help            {h * 1000:7.1f} ms")
    print(f"  python -c 'import click' {c * 1000:7.1f} ms")
    print(f"  ratio                    {h / c:7.2f}x   (goal <= 2x)")


def make_project(root: Path, wrangler: Path) -> dict[str, str]:
    envs = ",\n".join(f'"{e}": {{"name": "bench-{e}"}}' for e in ENVS)
    (root / "wrangler.jsonc").write_text(
        f'{{"name": "bench", "main": "src/index.js", "compatibility_date": "2025-01-01", "env": {{{envs}}}}}'
    )
    keys = [f"SECRET_{i:02d}" for i in range(N_SECRETS)]
    (root / ".skclaw.jsonc").write_text(json.dumps({"secrets": {"required": keys, "source": "envfile"},
                                                   "protectedEnvironments": []}))
    (root / ".secrets").mkdir(mode=0o700)
    for env in ENVS:
        lines = [f"{k}=value-{env}-{k}-{'x' * 24}" for k in keys]
        (root / ".secrets" / f"{env}.env").write_text("\n".join(lines) + "\n")
        (root / ".secrets" / f"{env}.env").chmod(0o600)
    # A shim that counts wrangler starts, then runs the real one.
    shim = root / "wrangler-shim"
    count = root / "wrangler-starts.log"
    shim.write_text(f'#!/bin/sh\necho "$1 $2" >> "{count}"\nexec "{wrangler}" "$@"\n')
    shim.chmod(0o755)
    return {k: f"value-{{env}}-{k}-{'x' * 24}" for k in keys}


def bench_sync() -> None:
    wrangler = Path(os.environ["SKCLAW_TEST_WRANGLER"])
    with CloudflareEmulator() as cf, tempfile.TemporaryDirectory(prefix="skclaw-bench-") as tmp:
        root = Path(tmp)
        templates = make_project(root, wrangler)
        home = root / "home"
        home.mkdir()
        env = bench_env(cf, home)
        for e in ENVS:
            cf.seed_worker(f"bench-{e}")
        skclaw = str(Path(sys.executable).parent / "skclaw")
        shim = root / "wrangler-shim"
        starts = root / "wrangler-starts.log"

        versions_before = {e: len(cf.versions(f"bench-{e}")) for e in ENVS}
        t_skclaw = timed([skclaw, "-C", str(root), "--wrangler", str(shim), "secrets", "sync", "--json",
                          *[a for e in ENVS for a in ("-e", e)]], env=env)
        # The counting shim hides wrangler's package.json, so skclaw probes `--version` once through
        # it; with node_modules/.bin/wrangler it reads the version from package.json instead.
        skclaw_starts = [line for line in starts.read_text().splitlines() if not line.startswith("--version")]
        skclaw_versions = {e: len(cf.versions(f"bench-{e}")) - versions_before[e] for e in ENVS}
        for e in ENVS:
            got = cf.secrets(f"bench-{e}")
            assert got == {k: v.replace("{env}", e) for k, v in templates.items()}, f"{e}: wrong values"

        starts.unlink()
        versions_before = {e: len(cf.versions(f"bench-{e}")) for e in ENVS}
        start = time.perf_counter()
        for e in ENVS:
            for key, value in templates.items():
                subprocess.run([str(shim), "secret", "put", key, "--config", str(root / "wrangler.jsonc"),
                                "--env", e], input=value.replace("{env}", e).encode(), env=env, cwd=root,
                               check=True, capture_output=True)
        t_naive = time.perf_counter() - start
        naive_starts = starts.read_text().splitlines()
        naive_versions = {e: len(cf.versions(f"bench-{e}")) - versions_before[e] for e in ENVS}

    print(f"\nsecrets sync: {N_SECRETS} secrets x {len(ENVS)} environments, real wrangler + emulator")
    print(f"  {'':24}{'wall':>9}{'wrangler starts':>18}{'new versions/env':>19}")
    print(f"  {'skclaw secrets sync':24}{t_skclaw:8.2f}s{len(skclaw_starts):>18}"
          f"{'/'.join(str(skclaw_versions[e]) for e in ENVS):>19}")
    print(f"  {'naive secret put loop':24}{t_naive:8.2f}s{len(naive_starts):>18}"
          f"{'/'.join(str(naive_versions[e]) for e in ENVS):>19}")
    print(f"  speed-up {t_naive / t_skclaw:.1f}x   (goal >= 8x; per env 3 wrangler starts: list, bulk, the new "
          "version's id; 1 version)")


def bench_repeat(runs: int = 3) -> None:
    """The same `secrets sync` run again and again with nothing changed: versions made, wall time."""
    wrangler = Path(os.environ["SKCLAW_TEST_WRANGLER"])
    with CloudflareEmulator() as cf, tempfile.TemporaryDirectory(prefix="skclaw-bench-") as tmp:
        root = Path(tmp)
        make_project(root, wrangler)
        home = root / "home"
        home.mkdir()
        env = bench_env(cf, home)
        for e in ENVS:
            cf.seed_worker(f"bench-{e}")
        skclaw = [str(Path(sys.executable).parent / "skclaw"), "-C", str(root), "--wrangler", str(wrangler)]
        before = {e: len(cf.versions(f"bench-{e}")) for e in ENVS}
        walls = [timed([*skclaw, "secrets", "sync", "--json", *[a for e in ENVS for a in ("-e", e)]], env=env)
                 for _ in range(runs)]
        made = {e: len(cf.versions(f"bench-{e}")) - before[e] for e in ENVS}
    print(f"\nrepeated secrets sync, nothing changed ({runs} runs, {N_SECRETS} secrets x {len(ENVS)} envs)")
    print(f"  new versions per env: {'/'.join(str(made[e]) for e in ENVS)}   (goal: 1, the first sync)")
    print(f"  wall per run: {', '.join(f'{w:.2f}s' for w in walls)}")


def counting_wrangler(root: Path, wrangler: Path) -> tuple[Path, Path]:
    """A shim that logs each wrangler start, then runs the real one. Its package.json (a copy of
    wrangler's) sits where skclaw looks for the version, so the shim costs no `--version` start."""
    package = wrangler.resolve().parent.parent / "package.json"
    (root / "counting" / "bin").mkdir(parents=True)
    (root / "counting" / "package.json").write_text(package.read_text())
    shim, log = root / "counting" / "bin" / "wrangler", root / "counting" / "starts.log"
    shim.write_text(f'#!/bin/sh\necho "$1 $2 $3" >> "{log}"\nexec "{wrangler}" "$@"\n')
    shim.chmod(0o755)
    return shim, log


def bench_release(runs: int = 5) -> None:
    """`skclaw deploy` and `skclaw migrate --remote` against the raw wrangler commands they wrap,
    side by side on one tiny Worker (where skclaw's share of the time is largest), then once more
    through a counting shim for the wrangler starts of each."""
    wrangler = Path(os.environ["SKCLAW_TEST_WRANGLER"])
    db_id = "0b1d5c1e-7a52-4c6e-9a3f-00000000b001"
    with CloudflareEmulator() as cf, tempfile.TemporaryDirectory(prefix="skclaw-bench-") as tmp:
        root = Path(tmp)
        (root / "src").mkdir()
        (root / "src" / "index.js").write_text('export default { fetch() { return new Response("ok"); } };\n')
        (root / "migrations").mkdir()
        (root / "migrations" / "0001_init.sql").write_text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\n")
        config = root / "wrangler.jsonc"

        def write_config(*, wrangler_required: bool) -> None:
            """The required secret in wrangler's own `secrets.required` (wrangler checks it within the
            deploy), or only in .skclaw.jsonc (skclaw reads the Worker's secrets before it)."""
            staging: dict[str, object] = {
                "d1_databases": [{"binding": "DB", "database_name": "rel-db", "database_id": db_id}]}
            if wrangler_required:
                staging["secrets"] = {"required": ["API_TOKEN"]}
            config.write_text(json.dumps({
                "name": "rel", "main": "src/index.js", "compatibility_date": "2025-01-01", "env": {"staging": staging},
            }))

        write_config(wrangler_required=True)
        (root / ".skclaw.jsonc").write_text(json.dumps({"secrets": {"required": ["API_TOKEN"]},
                                                       "protectedEnvironments": []}))
        home = root / "home"
        home.mkdir()
        env = bench_env(cf, home)
        cf.seed_worker("rel-staging", secrets={"API_TOKEN": "t"})
        cf.create_d1(db_id, "rel-db")
        python_skclaw = str(Path(sys.executable).parent / "skclaw")
        skclaw = [python_skclaw, "-C", str(root), "--wrangler", str(wrangler)]
        raw = [str(wrangler)]
        where = ["--config", str(config), "--env", "staging"]
        timed([*raw, "d1", "migrations", "apply", "DB", "--remote", *where], env=env, cwd=root)  # 0001, warm-up
        created: list[str] = []

        def new_migration(kind: str) -> None:
            number = len(created) + 2
            created.append(f"{kind}_{number}")
            (root / "migrations" / f"{number:04d}_{kind}.sql").write_text(f"CREATE TABLE {created[-1]} (x TEXT);\n")

        new_migration("sk")  # skclaw's first run creates its checksum table: not what is measured
        timed([*skclaw, "migrate", "--env", "staging", "--remote", "--yes", "--json"], env=env)

        deploy_raw: list[tuple[float, float]] = []
        deploy_sk: list[tuple[float, float]] = []
        deploy_listed: list[tuple[float, float]] = []
        listed_floor: list[tuple[float, float]] = []
        migrate_raw: list[tuple[float, float]] = []
        migrate_sk: list[tuple[float, float]] = []
        for _ in range(runs):
            deploy_raw.append(timed_cpu([*raw, "deploy", *where], env=env, cwd=root))
            deploy_sk.append(timed_cpu([*skclaw, "deploy", "--env", "staging", "--yes", "--json"], env=env))
            write_config(wrangler_required=False)
            deploy_listed.append(timed_cpu([*skclaw, "deploy", "--env", "staging", "--yes", "--json"], env=env))
            # ¹'s floor: the read that must finish before the upload, then the upload, by wrangler alone
            listed = timed_cpu([*raw, "secret", "list", "--format", "json", *where], env=env, cwd=root)
            uploaded = timed_cpu([*raw, "deploy", *where], env=env, cwd=root)
            listed_floor.append((listed[0] + uploaded[0], listed[1] + uploaded[1]))
            write_config(wrangler_required=True)
            new_migration("raw")
            migrate_raw.append(timed_cpu([*raw, "d1", "migrations", "apply", "DB", "--remote", *where], env=env,
                                         cwd=root))
            new_migration("sk")
            migrate_sk.append(timed_cpu([*skclaw, "migrate", "--env", "staging", "--remote", "--yes", "--json"],
                                        env=env))

        shim, log = counting_wrangler(root, wrangler)
        counted = [python_skclaw, "-C", str(root), "--wrangler", str(shim)]
        timed([*counted, "deploy", "--env", "staging", "--yes", "--json"], env=env)
        deploy_starts = log.read_text().splitlines()
        log.unlink()
        write_config(wrangler_required=False)
        timed([*counted, "deploy", "--env", "staging", "--yes", "--json"], env=env)
        listed_starts = log.read_text().splitlines()
        log.unlink()
        write_config(wrangler_required=True)
        new_migration("sk")
        timed([*counted, "migrate", "--env", "staging", "--remote", "--yes", "--json"], env=env)
        migrate_starts = log.read_text().splitlines()
        tables = cf.d1_tables(db_id)
        assert all(name in tables for name in created), "a migration did not land"

    def wall(runs: list[tuple[float, float]]) -> float:
        return statistics.median(w for w, _ in runs)

    def cpu(runs: list[tuple[float, float]]) -> float:
        return statistics.median(c for _, c in runs)

    def starts(lines: list[str]) -> str:
        return f"{len(lines)} wrangler starts ({', '.join(' '.join(line.split()[:2]) for line in lines)})"

    load = os.getloadavg()[0]
    print(f"\nrelease overhead ({runs} runs each, median; tiny Worker, real wrangler + emulator; "
          f"load average {load:.1f} on {os.cpu_count()} CPUs)")
    print(f"  {'':30}{'wall':>8}{'ratio':>8}{'goal':>10}{'CPU':>8}{'ratio':>8}   wrangler starts")
    for name, sk, ref, goal, counted in (
        ("deploy", deploy_sk, deploy_raw, 2.0, deploy_starts),
        ("deploy ¹", deploy_listed, deploy_raw, 2.0, listed_starts),
        ("migrate --remote", migrate_sk, migrate_raw, 2.5, migrate_starts),
    ):
        reference = "wrangler d1 migrations apply" if name.startswith("migrate") else "wrangler deploy"
        if name != "deploy ¹":
            print(f"  {reference:30}{wall(ref):7.2f}s{'':18}{cpu(ref):7.2f}s{'':8}   1")
        else:
            print(f"  {'wrangler secret list; deploy ²':30}{wall(listed_floor):7.2f}s"
                  f"{wall(listed_floor) / wall(ref):7.2f}x{'':10}{cpu(listed_floor):7.2f}s"
                  f"{cpu(listed_floor) / cpu(ref):7.2f}x   2")
        print(f"  {'skclaw ' + name:30}{wall(sk):7.2f}s{wall(sk) / wall(ref):7.2f}x{'<= ' + str(goal) + 'x':>10}"
              f"{cpu(sk):7.2f}s{cpu(sk) / cpu(ref):7.2f}x   {starts(counted)}")
    print("  The required secret is in the env's wrangler `secrets.required`: `wrangler deploy` checks it\n"
          "  within the upload. ¹ Only in .skclaw.jsonc: skclaw reads the Worker's secrets first.\n"
          "  ² ¹'s floor: the two wrangler commands it needs, one after the other, without skclaw.")


if __name__ == "__main__":
    only = sys.argv[1:]
    if not only or "help" in only:
        bench_help()
    if not only or "sync" in only:
        bench_sync()
    if not only or "repeat" in only:
        bench_repeat()
    if not only or "release" in only:
        bench_release()
