"""The secrets concept in one place: the value that never shows itself (``value``), an env's
manifest and its values (``manifest``), the sync engine (``sync``), what skclaw last pushed
(``fingerprints``), wrangler's dotenv dialect (``dotenv``) and `.dev.vars` files (``devvars``).

Kept empty of imports: the sources and the wrangler layer import ``skclaw.secrets.value``."""
