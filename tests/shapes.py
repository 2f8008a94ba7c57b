"""A corpus of real-world Worker project shapes, written for skclaw's tests.

Each shape is modelled on public projects (workers-sdk fixtures and templates, npm workspaces,
Cloudflare Vite plugin builds, Pages sites, D1-heavy apps). ``build_shape(name, root)`` writes one
under ``root`` and returns a :class:`Shape` saying where to run skclaw and which Worker each env
addresses (what wrangler itself addresses there).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

INDEX_JS = 'export default { fetch() { return new Response("%s"); } };\n'


@dataclass(frozen=True)
class Shape:
    name: str
    root: Path  # the repository root
    run_dir: Path  # where a user runs skclaw (and wrangler)
    workers: dict[str, str] = field(default_factory=dict)  # env -> Worker name wrangler addresses

    def worker(self, env: str) -> str:
        return self.workers[env]


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")


# -- the shapes -------------------------------------------------------------------------------

# A single Worker in TOML (workers-sdk templates/hello-world): the top level is production.
SINGLE_TOML = {
    "wrangler.toml": 'name = "hello-toml"\nmain = "src/index.js"\ncompatibility_date = "2025-01-01"\n',
    "src/index.js": INDEX_JS % "hello-toml",
}

# TOML with env blocks and D1 per env (a D1-heavy app: two databases, custom migrations dir).
D1_TOML = {
    "wrangler.toml": """\
name = "d1-app"
main = "src/index.js"
compatibility_date = "2025-01-01"

[env.staging]
[[env.staging.d1_databases]]
binding = "DB"
database_name = "d1-app-staging"
database_id = "6a1e7a52-0b1d-4c6e-9a3f-00000000b001"
migrations_dir = "db/migrations"
[[env.staging.d1_databases]]
binding = "AUDIT"
database_name = "d1-app-audit-staging"
database_id = "6a1e7a52-0b1d-4c6e-9a3f-00000000b002"

[env.production]
name = "d1-app-live"
[[env.production.d1_databases]]
binding = "DB"
database_name = "d1-app-production"
database_id = "6a1e7a52-0b1d-4c6e-9a3f-00000000b003"
migrations_dir = "db/migrations"
""",
    "src/index.js": INDEX_JS % "d1-app",
    "db/migrations/0001_init.sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\n",
}

# An npm workspace: wrangler installed once at the root, the Worker in packages/api.
WORKSPACE = {
    "package.json": json.dumps({"name": "monorepo", "private": True, "workspaces": ["packages/*"]}),
    "packages/api/package.json": json.dumps({"name": "api", "private": True}),
    "packages/api/wrangler.jsonc": """\
// the API Worker of a monorepo (wrangler lives in the workspace root's node_modules)
{
  "name": "mono-api",
  "main": "src/index.js",
  "compatibility_date": "2025-01-01",
  "env": {
    "staging": {},
    "production": { "name": "mono-api-prod" },
  },
}
""",
    "packages/api/src/index.js": INDEX_JS % "mono-api",
    "packages/web/package.json": json.dumps({"name": "web", "private": True}),
}

# A Cloudflare Vite plugin build for staging: the source config, and the flattened config the
# build wrote to dist/, found through .wrangler/deploy/config.json.
VITE_REDIRECT = {
    "wrangler.jsonc": """\
{
  "name": "vite-app",
  "main": "src/worker.ts",
  "compatibility_date": "2025-01-01",
  "env": { "staging": {}, "production": {} },
}
""",
    "src/worker.ts": INDEX_JS % "SOURCE-NOT-BUILT",
    "dist/vite_app/wrangler.json": json.dumps({
        "name": "vite-app-staging",
        "topLevelName": "vite-app",
        "main": "index.js",
        "compatibility_date": "2025-01-01",
        "no_bundle": True,
        "rules": [{"type": "ESModule", "globs": ["**/*.js"]}],
        "targetEnvironment": "staging",
        "definedEnvironments": ["staging", "production"],
    }),
    "dist/vite_app/index.js": INDEX_JS % "BUILT-BY-VITE",
    ".wrangler/deploy/config.json": json.dumps({"configPath": "../../dist/vite_app/wrangler.json"}),
}

# A Pages project (pages_build_output_dir): not a Worker.
PAGES = {
    "wrangler.toml": 'name = "my-site"\npages_build_output_dir = "./dist"\ncompatibility_date = "2025-01-01"\n',
    "dist/index.html": "<h1>hi</h1>\n",
}

# Service environments (legacy_env = false), removed from wrangler in 4.111.
LEGACY_ENV = {
    "wrangler.toml": """\
name = "legacy-svc"
main = "src/index.js"
compatibility_date = "2025-01-01"
legacy_env = false

[env.staging]
""",
    "src/index.js": INDEX_JS % "legacy",
}

# No top-level name; every env names its Worker (common in multi-tenant repos).
UNNAMED_TOP = {
    "wrangler.jsonc": """\
{
  "main": "src/index.js",
  "compatibility_date": "2025-01-01",
  "env": {
    "staging": { "name": "tenant-api-staging" },
    "production": { "name": "tenant-api" },
  },
}
""",
    "src/index.js": INDEX_JS % "tenant-api",
}

# wrangler's own custom build (build.command): wrangler runs it during `wrangler deploy`.
CUSTOM_BUILD = {
    "wrangler.jsonc": """\
{
  "name": "custom-build",
  "main": "build/index.js",
  "compatibility_date": "2025-01-01",
  "build": { "command": "node build.mjs" },
}
""",
    "build.mjs": """\
import { mkdirSync, writeFileSync } from "node:fs";
mkdirSync("build", { recursive: true });
writeFileSync("build/index.js", 'export default { fetch() { return new Response("built"); } };\\n');
writeFileSync("build/.ran", String(Date.now()));
""",
}

# Env names no file path or flag may be made from.
BAD_ENV_NAME = {
    "wrangler.jsonc": json.dumps({
        "name": "bad-env",
        "main": "src/index.js",
        "compatibility_date": "2025-01-01",
        "env": {"": {"name": "bad-env"}, "staging": {}},
    }),
    "src/index.js": INDEX_JS % "bad-env",
}

SHAPES: dict[str, dict[str, str]] = {
    "single-toml": SINGLE_TOML,
    "d1-toml": D1_TOML,
    "workspace": WORKSPACE,
    "vite-redirect": VITE_REDIRECT,
    "pages": PAGES,
    "legacy-env": LEGACY_ENV,
    "unnamed-top": UNNAMED_TOP,
    "custom-build": CUSTOM_BUILD,
    "bad-env-name": BAD_ENV_NAME,
}

RUN_DIRS = {"workspace": "packages/api"}

WORKERS: dict[str, dict[str, str]] = {
    "single-toml": {"default": "hello-toml"},
    "d1-toml": {"default": "d1-app", "staging": "d1-app-staging", "production": "d1-app-live"},
    "workspace": {"default": "mono-api", "staging": "mono-api-staging", "production": "mono-api-prod"},
    "vite-redirect": {"staging": "vite-app-staging", "production": "vite-app-production"},
    "unnamed-top": {"staging": "tenant-api-staging", "production": "tenant-api"},
    "custom-build": {"default": "custom-build"},
}


def build_shape(name: str, root: Path, *, wrangler: Path | None = None) -> Shape:
    """Write shape ``name`` under ``root``. With ``wrangler``, a workspace gets it as
    ``node_modules/.bin/wrangler`` at its root (a symlink, as npm installs it)."""
    root.mkdir(parents=True, exist_ok=True)
    _write(root, SHAPES[name])
    if name == "workspace" and wrangler is not None:
        bin_dir = root / "node_modules" / ".bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / "wrangler").symlink_to(wrangler)
    return Shape(name, root, root / RUN_DIRS.get(name, ""), dict(WORKERS.get(name, {})))
