"""Plug-in codecs: `python:package.module:attr`, the user's own scheme loaded from their code.

`attr` (dotted names allowed) is one of:
  - a class: called with the key file's bytes (`attr(key)`), gives the codec;
  - a codec instance (it needs no key from hfcheck, or found its own);
  - any other callable: a factory, called like a class.
The key is the key file's content as `read_key_file` checked it (regular file, mode 0600,
whitespace stripped); `hfcheck.crypto.decode_key` turns one line of base64 into 32 bytes.
The module must be importable (installed, or on PYTHONPATH); hfcheck adds no path itself.
Anything wrong (no such module or attribute, not a codec, the factory failed) is one line
naming the setting, exit code 2.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from hfcheck.config import PLUGIN_SCHEME_RE
from hfcheck.crypto.codec import Codec
from hfcheck.errors import ConfigError, HfcheckError
from hfcheck.report.catalog import msg

_FLAGS = ("names_reversible", "deterministic_names", "binds_path")
_METHODS = ("recognises", "encrypt_to", "decrypt_to", "encrypt_file", "decrypt_file", "encrypt_name", "decrypt_name")


def _resolve(scheme: str) -> Any:
    m = PLUGIN_SCHEME_RE.fullmatch(scheme)
    if not m:
        raise ConfigError(msg("err_plugin_form", scheme=scheme))
    module_name, attr = m["module"], m["attr"]
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(msg("err_plugin_import", scheme=scheme, module=module_name, error=str(exc))) from None
    except Exception as exc:  # the user's module failed while importing: name it, not a traceback
        raise ConfigError(
            msg("err_plugin_import_failed", scheme=scheme, module=module_name, kind=type(exc).__name__, error=str(exc))
        ) from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(msg("err_plugin_attr", scheme=scheme, module=module_name, attr=attr)) from None
    return obj


def check_codec(obj: Any, scheme: str) -> Codec:
    """The object, if it has every member of the Codec protocol with the right kind of value."""
    where = f"crypto scheme {scheme}"
    if not isinstance(getattr(obj, "name", None), str) or not obj.name:
        raise ConfigError(msg("err_plugin_no_name", where=where, kind=type(obj).__name__))
    for flag in _FLAGS:
        if not isinstance(getattr(obj, flag, None), bool):
            raise ConfigError(msg("err_plugin_flag", where=where, kind=type(obj).__name__, flag=flag))
    size = getattr(obj, "max_file_size", 0)
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ConfigError(msg("err_plugin_max_size", where=where, kind=type(obj).__name__))
    for method in _METHODS:
        if not callable(getattr(obj, method, None)):
            raise ConfigError(msg("err_plugin_method", where=where, kind=type(obj).__name__, method=method))
    assert isinstance(obj, Codec)
    return obj


def load_plugin(scheme: str, key: Callable[[], bytes]) -> Codec:
    """Import and check the codec `scheme` names; `key()` reads the key file when needed."""
    obj = _resolve(scheme)
    if isinstance(obj, type) or (callable(obj) and not callable(getattr(obj, "encrypt_file", None))):
        material = key()
        try:
            obj = obj(material)
        except HfcheckError:
            raise
        except Exception as exc:
            text = str(exc)
            detail = "" if not text or material.decode("latin-1") in text else f": {text[:200]}"
            raise ConfigError(msg("err_plugin_create", scheme=scheme, kind=type(exc).__name__, detail=detail)) from None
    return check_codec(obj, scheme)
