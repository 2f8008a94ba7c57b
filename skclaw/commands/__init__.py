"""One module per command family; each command returns its result type (skclaw.results), the
boundary (skclaw.cli.execute) renders, audits and reports it."""
