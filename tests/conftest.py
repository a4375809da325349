"""Test-wide settings. The official client reads these at import: set them before anything imports it.

Xet is on, as for every real user: each test run gets its own HF_XET_CACHE (hf_xet keeps a
process-global dedupe cache keyed by CAS URL) and hf_xet gives up after one attempt instead of
retrying for minutes. Tests that need Xet off run the client in a subprocess.
"""

import os
import tempfile

os.environ.pop("HF_HUB_DISABLE_XET", None)
os.environ["HF_XET_CACHE"] = tempfile.mkdtemp(prefix="hfcheck-xet-cache-")
os.environ["HF_XET_CLIENT_RETRY_MAX_ATTEMPTS"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["TWS_TELEMETRY"] = "0"
os.environ.pop("HF_TOKEN", None)
os.environ["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1"
