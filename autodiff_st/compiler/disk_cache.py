"""An optional on-disk cache of generated adjoint source, so that a new process skips the pipeline.

Off by default. It is turned on by ``ad.enable_disk_cache(path=None)`` or by the environment variable
``AUTODIFF_ST_DISK_CACHE`` (``1`` for the default directory, or a directory path). The default directory
is the user's cache directory: ``$XDG_CACHE_HOME/autodiff_st`` (``~/.cache/autodiff_st``) on Linux,
``~/Library/Caches/autodiff_st`` on macOS, ``%LOCALAPPDATA%\\autodiff_st\\Cache`` on Windows.

Safety: the directory is created with mode 0700; an existing one is used only if it is a real directory
(not a link) owned by the user and not writable by group or others, else the cache stays off (a
warning on the "autodiff_st" logger). Entries are written 0600, atomically.

An entry is the generated module's source and what is needed to bind it again: the names of its
generated functions, its line map, the helpers it is given (by module and qualified name) and the
guards it was compiled under. Its file name is a hash of everything the generated code depends on: the
text of the user's file, the function's place in it and its bytecode, positions, mode, argument kinds, the library (its
version and the size and time of each of its files), Python's and numpy's versions, and the rules users
registered. An entry is never trusted: it must carry that key and a SHA-256 of its own content, every
helper must import to an object of the recorded name, and every guard name must still resolve to the
same object as when it was written; otherwise it is ignored and rebuilt (and the file replaced).
"""

import hashlib
import importlib
import json
import linecache
import logging
import os
import stat
import sys
import tempfile
import types

import numpy as np

from ..core import registry
from ..core.version import __version__
from ..runtime.loader import compile_module, inner_code_objects, line_map
from .parsing import Origin

log = logging.getLogger("autodiff_st")

ENVIRONMENT_VARIABLE = "AUTODIFF_ST_DISK_CACHE"
_FORMAT = 1
_STATE = {"directory": None, "checked_env": False}
_LIBRARY = []  # the library's own fingerprint, computed once per process


def default_directory():
    """The user's cache directory for autodiff_st, as the platform names it."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
        return os.path.join(base, "autodiff_st", "Cache")
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Caches/autodiff_st")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "autodiff_st")


def enable(path=None):
    """Turn the disk cache on, in ``path`` or the default directory; returns the directory. Raises
    ``PermissionError`` for a directory that is shared or not the user's."""
    directory = os.path.abspath(os.path.expanduser(path or default_directory()))
    _check_directory(directory)
    _STATE["directory"] = directory
    _STATE["checked_env"] = True
    return directory


def disable():
    _STATE["directory"] = None
    _STATE["checked_env"] = True


def directory():
    """The directory in use, or None when the cache is off (the environment variable is read once)."""
    if not _STATE["checked_env"]:
        _STATE["checked_env"] = True
        value = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
        if value and value.lower() not in ("0", "false", "no", "off"):
            try:
                enable(None if value.lower() in ("1", "true", "yes", "on") else value)
            except OSError as exc:
                log.warning("autodiff_st disk cache is off: %s", exc)
    return _STATE["directory"]


def _check_directory(path):
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise PermissionError(f"the disk cache directory {path} is not a directory (a link, or a file).")
    if hasattr(os, "getuid"):
        if info.st_uid != os.getuid():
            raise PermissionError(f"the disk cache directory {path} is not owned by this user.")
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise PermissionError(f"the disk cache directory {path} is writable by group or others.")


def _library_fingerprint():
    if not _LIBRARY:
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        parts = [__version__, sys.version, np.__version__]
        for root, dirs, files in os.walk(package):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".py"):
                    info = os.stat(os.path.join(root, name))
                    parts.append(f"{os.path.relpath(os.path.join(root, name), package)}:{info.st_size}:"
                                 f"{info.st_mtime_ns}")
        _LIBRARY.append(hashlib.sha256("\n".join(parts).encode()).hexdigest())
    return _LIBRARY[0]


def _user_rules():
    """The rules registered outside the library, by name and code: part of every key."""
    parts = [str(len(registry._NONDIFF)), str(len(registry._FORWARD)), str(len(registry._BATCHING))]
    for key, rule in registry._RULES.items():
        module = getattr(rule.vjp, "__module__", "") or ""
        if module.startswith("autodiff_st"):
            continue
        code = getattr(rule.vjp, "__code__", None)
        parts.append(f"{registry.display_name(rule.primitive)}={module}.{getattr(rule.vjp, '__qualname__', '?')}:"
                     + (hashlib.sha256(code.co_code + repr(code.co_consts).encode()).hexdigest()
                        if code is not None else "?"))
    return parts


def _code_digest(code):
    """A hash of the function's own bytecode, names and constants (nested code objects by their own hash):
    a function defined from an older text of a file that has since changed gets another key."""
    digest = hashlib.sha256(code.co_code)
    for names in (code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars):
        digest.update(repr(names).encode())
    for const in code.co_consts:
        digest.update((_code_digest(const) if isinstance(const, types.CodeType) else repr(const)).encode())
    return digest.hexdigest()


def key_for(fn, positions, mode, kinds, roots):
    """The hash naming ``fn``'s entry, or None for a function without a readable file (or generated)."""
    code = fn.__code__
    if code.co_filename.startswith("<"):  # generated code (numbered per process) or a console: not stored
        return None
    lines = linecache.getlines(code.co_filename)
    if not lines:
        return None
    parts = [str(_FORMAT), _library_fingerprint(), code.co_filename, str(code.co_firstlineno),
             code.co_qualname if hasattr(code, "co_qualname") else code.co_name,
             hashlib.sha256("".join(lines).encode()).hexdigest(), _code_digest(code), repr(positions), mode,
             repr(kinds), repr(roots)] + _user_rules()
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def reference(obj):
    """``[module, qualified name]`` naming ``obj``, or None when importing them does not give it back."""
    if isinstance(obj, types.ModuleType):
        ref = [obj.__name__, ""]
    else:
        module, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        if not isinstance(module, str) or not isinstance(name, str) or "<" in name:
            return None
        ref = [module, name]
    try:
        return ref if resolve(ref) is obj else None
    except Exception:  # noqa: BLE001 (an object that cannot be named is not cached)
        return None


def resolve(ref):
    obj = importlib.import_module(ref[0])
    for part in filter(None, ref[1].split(".")):
        obj = getattr(obj, part)
    return obj


def _kind(obj):
    """What decided how a call of ``obj`` was compiled, beyond its name: its type and its rules."""
    kind = type(obj)
    return (f"{kind.__module__}.{kind.__qualname__} rule={registry.lookup(obj) is not None} "
            f"nondifferentiable={registry.is_nondifferentiable(obj)}")


def _path(key):
    return os.path.join(_STATE["directory"], f"{key}.json")


def _digest(payload):
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def store(key, fn, compiled, description):
    """Write ``compiled``'s entry; nothing when one of its helpers or guards cannot be named."""
    helpers = {name: reference(cell.cell_contents) for name, cell in compiled.helper_cells.items()}
    guards = [[name, None if obj is None else reference(obj), _kind(obj)] for name, obj in compiled.guards]
    if any(ref is None for ref in helpers.values()) or any(obj is not None and ref is None for (_, obj), (_, ref, _)
                                                            in zip(compiled.guards, guards)):
        log.debug("not written to the disk cache: %s reads an object that cannot be named", description)
        return
    lines = line_map(compiled.filename) or {}
    payload = {
        "source": compiled.source, "factory": compiled.factory_name, "names": list(compiled.names),
        "description": description, "helpers": helpers, "guards": guards,
        "params": list(compiled.param_names), "user_locals": sorted(compiled.user_locals),
        "line_map": [[line, o.filename, o.lineno, o.source_line, o.function] for line, o in sorted(lines.items())],
    }
    entry = {"key": key, "digest": _digest(payload), "payload": payload}
    directory_ = _STATE["directory"]
    try:
        handle, temporary = tempfile.mkstemp(dir=directory_, prefix=".entry-", suffix=".tmp")
        with os.fdopen(handle, "w") as out:
            json.dump(entry, out)
        os.chmod(temporary, 0o600)
        os.replace(temporary, _path(key))
    except OSError as exc:
        log.debug("could not write to the disk cache: %s", exc)


def load(key, fn, make_compiled):
    """The compiled module of ``key``'s entry, checked, or None (no entry, or one not to be trusted)."""
    path = _path(key)
    try:
        with open(path) as handle:
            entry = json.load(handle)
        payload = entry["payload"]
        if entry.get("key") != key or entry.get("digest") != _digest(payload):
            raise ValueError("its key or its digest does not match its content")
        helpers = {name: resolve(ref) for name, ref in payload["helpers"].items()}
        guards = []
        for name, ref, kind in payload["guards"]:
            expected = None if ref is None else resolve(ref)
            if _kind(expected) != kind:
                raise ValueError(f"{name} is now a different kind of object")
            guards.append((name, expected))
        lines = {line: Origin(filename, lineno, text, function)
                 for line, filename, lineno, text, function in payload["line_map"]}
        code, filename = compile_module(payload["source"], payload["description"], lines)
        codes = inner_code_objects(code, payload["factory"])
        compiled = make_compiled(payload, filename, codes, helpers, tuple(guards))
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 (a damaged or stale entry is rebuilt, never trusted)
        log.info("ignored a disk cache entry for %s (%s): rebuilding it", getattr(fn, "__qualname__", "?"), exc)
        return None
    if not compiled.still_valid(fn):  # a guard name now refers to another object
        log.info("ignored a stale disk cache entry for %s: rebuilding it", getattr(fn, "__qualname__", "?"))
        return None
    log.info("loaded from disk cache: %s (%s)", getattr(fn, "__qualname__", "?"), payload["description"])
    return compiled
