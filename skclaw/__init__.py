"""skclaw: ship Cloudflare Workers through the real wrangler, safely."""

__version__ = "0.1.0"
