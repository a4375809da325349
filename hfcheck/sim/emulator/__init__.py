"""Local Hugging Face Hub emulator: dataset repos over real HTTP for the official client.

- `store.Store`: persistent repos (SQLite metadata + sha256-addressed blobs), seeding API.
- `faults.Faults`: latency, random 5xx, connection resets, rate-limit windows, counters.
- `server`: the aiohttp app (`build_app`, `start_server`), assembled from the route modules
  `routes_repo` (reading), `routes_commit` (writing), `routes_files` (resolve, LFS, CDN),
  `routes_control` (the control API) and `xet/`; `context`: what the handlers share.
- `testing`: `start_emulator` / `EmulatorThread` / `EmulatorProcess` for tests and demos.

See docs/emulator.md.
"""

from hfcheck.sim.emulator.store import Store, StoreError

__all__ = ["Store", "StoreError"]
