"""Xet storage for the Hub emulator: what the official client (hf_xet) speaks to the real Hub.

- `hashing`: keyed blake3 chunk hashes, the Merkle tree of xorb and file hashes, hash text.
- `formats`: xorb (chunk headers, none / LZ4 / ByteGrouping4-LZ4) and shard parsing/building.
- `cas`: xorbs and Xet files in the emulator's store; a shard's files become sha256 blobs.
- `routes`: the write/read tokens, the CAS endpoints and the bridge host.

Facts: /work/shared/notes/xet-protocol.md and the spec (hub-docs `docs/xet/`).
"""
