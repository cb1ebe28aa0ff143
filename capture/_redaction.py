"""The one home of secret redaction: what counts as a secret, and what a redacted value looks like.

Every path that turns user data into records (task inputs and outputs, custom tasks, workflow arguments, the
command line, the environment, telemetry, agent prompts and responses, error messages) and provgraph's error
messages and logs go through a `Redactor`. It finds secrets two ways:

- by **name**: a name (argument, dict key, attribute, environment variable, ``--flag``) is split into word parts
  (``db_password`` -> db, password; ``x-api-key`` -> x, api, key; ``dbPassword`` -> db, password) and is secret
  when its parts contain a deny entry (``password``, ``api_key``, ...) or one of its words ends with one
  (``PGPASS``, ``mysqlpassword``), unless a word says the name *describes* a secret rather than holds one
  (``token_count``, ``password_file``, ``auth_type``). The secret value is replaced, at any depth.
- by **value** (setting ``redact_scan_values``, on by default): text is scanned for well-known credential formats
  (cloud keys, GitHub/GitLab/Slack/OpenAI/Anthropic/Google/Stripe tokens, JWTs, PEM private keys, bearer
  headers, passwords in URL userinfo, ``password=...`` pairs in connection strings and query strings) and for the
  exact values of secret-named variables of the current environment.

A redacted value keeps its shape, never its value: ``[REDACTED:<name or kind> len=<length> h=<hash>]``, where the
hash is 8 hex digits of a keyed BLAKE2b of the value (key: setting ``redact_salt``, or random per process), so two
equal secrets in one run show the same hash. docs/security.md states what is redacted and what cannot be.

This module uses only the standard library and imports nothing from capture (it sits at the bottom of the layers).

Example::

    from capture._redaction import Redactor

    redactor = Redactor()
    redactor.secret_name("db_password")        # True;  redactor.secret_name("session_id") -> False
    redactor.redact({"user": "u", "creds": {"password": "hunter2"}})
    # {'user': 'u', 'creds': '[REDACTED:creds len=23 h=5c1e0b9a]'}
    redactor.scrub("connect postgres://u:hunter2@db/x")   # 'connect postgres://u:[REDACTED:...]@db/x'
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import sys
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

__all__ = [
    "DEFAULT_DENY",
    "DESCRIPTIVE_WORDS",
    "REDACTED",
    "Redactor",
    "active",
    "configure",
    "redact_url",
    "scrub",
]

REDACTED = "[REDACTED"
"""Every redaction marker starts with this text."""

DEFAULT_DENY: tuple[str, ...] = (
    "password",
    "passwd",
    "passphrase",
    "pass",
    "pw",
    "secret",
    "token",
    "credential",
    "creds",
    "auth",
    "authorization",
    "cookie",
    "jwt",
    "api_key",
    "access_key",
    "private_key",
    "account_key",
    "signing_key",
    "encryption_key",
    "master_key",
    "session_key",
    "ssh_key",
    "license_key",
    "redact_salt",  # the key of the marker hash (PROVGRAPH_REDACT_SALT): with it, short secrets can be guessed
)
"""Built-in deny entries (word parts of a name). Deliberately absent: ``key`` alone (``sort_key``, ``monkey``),
``session`` (``session_id`` is how users filter runs), ``private`` alone (``is_private``), ``pwd`` (``PWD`` and
``OLDPWD`` are directories). The setting ``redact_deny`` adds entries; it never removes these."""

DESCRIPTIVE_WORDS: frozenset[str] = frozenset(
    {
        "type",
        "types",
        "method",
        "mode",
        "kind",
        "url",
        "uri",
        "endpoint",
        "host",
        "provider",
        "scheme",
        "enabled",
        "disabled",
        "required",
        "file",
        "path",
        "dir",
        "count",
        "counts",
        "length",
        "len",
        "num",
        "max",
        "min",
        "limit",
        "usage",
        "total",
        "budget",
        "expiry",
        "expires",
        "expiration",
        "ttl",
        "name",
        "policy",
        "format",
        "version",
        "timeout",
        "algorithm",
        "rate",
        "index",
        "env",
        "var",
        "prefix",
        "pad",
        "eos",
        "bos",
        "unk",
        "sep",
        "cls",
        "mask",
        "special",
    }
)
"""A name with one of these words describes a secret rather than holding one (``token_count``, ``password_file``,
``auth_type``, ``secret_name``, ``pad_token``) and is not redacted by name (its value is still scanned)."""

# Ordinary words that end like a deny entry (glued suffix match): `bypass` is not a password.
_ORDINARY_WORDS = frozenset(
    {
        "bypass",
        "compass",
        "encompass",
        "surpass",
        "trespass",
        "overpass",
        "underpass",
        "multipass",
        "impass",
        "askpass",
    }
)
# Entries whose plural is ordinary: `tokens` are what NLP and LLM code counts (`max_tokens`, a list of tokens).
_NO_PLURAL = frozenset({"token"})
# Names that hold a secret only inside text (`Pwd=` in an ODBC connection string), not as variables (`PWD`).
_TEXT_ONLY_NAMES = frozenset({"pwd"})

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_MIN_SECRET_CHARS = 6
"""Shortest text that is scanned, and shortest environment value searched for inside text."""
_MAX_DEPTH = 32
_PROCESS_SALT = os.urandom(32)
"""Key of the marker hash when no salt is set: one per process, so equal secrets show equal hashes in it."""
_MAX_CACHE = 10_000
_CACHED_TEXT = 256
"""Texts up to this many characters keep their scrubbed form (`Redactor.scrub`)."""
_ENV_CHECK_S = 0.5
_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9_.:@/+-]")

# --- value formats -------------------------------------------------------------------------------------------------
# Each format is its own regex starting with a literal, so the regex engine skips to candidates at C speed (one
# alternation of them all is ~100x slower on long text), and each runs only when a cheap substring test passes.
# A format must start at a word boundary; that is checked on the match (a look-behind would cost the fast skip).
_TOKEN_FORMATS: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    (("AKIA", "ASIA"), re.compile(r"A[KS]IA[A-Z0-9]{16}(?![A-Za-z0-9])"), "aws-access-key"),
    (("gh",), re.compile(r"gh[pousr]_[A-Za-z0-9]{36,251}"), "github-token"),
    (("github_pat_",), re.compile(r"github_pat_[A-Za-z0-9_]{22,255}"), "github-token"),
    (
        ("gl",),
        re.compile(r"gl(?:pat|dt|rt|ptt|ft|soat|cbt|imt|oas|agent)-[A-Za-z0-9_\-]{20,}"),
        "gitlab-token",
    ),
    (("xox",), re.compile(r"xox[abposrce]-[A-Za-z0-9\-]{10,}"), "slack-token"),
    (("hooks.slack.com",), re.compile(r"hooks\.slack\.com/services/[A-Za-z0-9/_\-]+"), "slack-webhook"),
    (("sk-ant-",), re.compile(r"sk-ant-[A-Za-z0-9_\-]{20,}"), "anthropic-key"),
    (
        ("sk-",),
        re.compile(
            r"sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{40,}|sk-[A-Za-z0-9]{32,}(?![A-Za-z0-9_\-])"
        ),
        "openai-key",
    ),
    (("k_live_", "k_test_"), re.compile(r"[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"), "stripe-key"),
    (("AIza",), re.compile(r"AIza[0-9A-Za-z_\-]{35}"), "google-api-key"),
    (("ya29.",), re.compile(r"ya29\.[0-9A-Za-z_\-]{20,}"), "google-oauth-token"),
    (("GOCSPX-",), re.compile(r"GOCSPX-[0-9A-Za-z_\-]{20,}"), "google-client-secret"),
    (("eyJ",), re.compile(r"eyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"), "jwt"),
    (("earer", "EARER"), re.compile(r"(?i:bearer)\s+([A-Za-z0-9._~+/\-]{12,}=*)"), "bearer-token"),
)
_TOKEN_GUARD = re.compile("|".join(re.escape(guard) for guards, _, _ in _TOKEN_FORMATS for guard in guards))
_SHORT_TEXT = 256
_PEM = re.compile(
    r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|\Z)"
)
# scheme://user:password@host: only the password is replaced. It may hold '@' (greedy, up to the last one before
# the path) but not '/', quotes or spaces.
_URL_PASSWORD = re.compile(r"://([^\s:/@?#\"'<>]*):([^\s/?#\"'<>]+)@")
# name=value, name: value, "name": "value" (connection strings, query strings, JSON, reprs, headers), found from
# a secret-looking stem in the lower-cased text; the name's start is found by looking back from the stem.
_KV_STEMS = ("pass", "pw", "secret", "token", "key", "cred", "auth", "cookie", "jwt")
# The separator is matched first and the name judged before the value is read: a value runs to the next stop
# character, so reading it for every stem in a long text with no stops (`bypass=bypass=...`) would be quadratic.
# A value found under a secret name is skipped whole, so each character is read as a value at most once.
_KV_SEPARATOR = re.compile(r"[a-z0-9_.\-]{0,40}([\"']?\s*[=:]\s*(?:(?:bearer|basic|token|digest)\s+)?)")
_KV_VALUE = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s;,&\"'<>{}\[\]()]+")
_AUTH_SCHEMES = frozenset({"bearer", "basic", "token", "digest"})
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


class Redactor:
    """Secret detection and replacement, configured once (deny and allow lists, value scanning, salt).

    Args:
        deny: extra deny entries (word parts: ``"my_stuff"``, ``"PIN"``), added to `DEFAULT_DENY`.
        allow: names never redacted by name (case-insensitive exact match), e.g. ``"AUTH_MODE_FLAG"``.
        scan_values: scan text for credential formats and for secret environment values (default on).
        salt: key of the marker hash; empty: a random key of this process (hashes compare only within it).
        environ: the environment whose secret values are searched for in text (default ``os.environ``).
        argv: the command line whose secret options' values (``--password=X``, ``--token X``) are searched for in
            text like the environment's (default ``sys.argv``, read again with the environment).
    """

    def __init__(
        self,
        deny: Iterable[str] = (),
        allow: Iterable[str] = (),
        scan_values: bool = True,
        salt: str | bytes = "",
        environ: Mapping[str, str] | None = None,
        argv: Sequence[str] | None = None,
    ) -> None:
        self.scan_values = bool(scan_values)
        self._allow = frozenset(str(name).lower() for name in allow)
        entries: list[tuple[tuple[str, ...], str, bool]] = []
        for entry in (*DEFAULT_DENY, *deny):
            parts = tuple(word.lower() for word in _WORD.findall(str(entry)))
            if parts and all(parts != known[0] for known in entries):
                entries.append((parts, "".join(parts), parts[-1] not in _NO_PLURAL))
        self._deny = tuple(entries)
        key = salt.encode() if isinstance(salt, str) else bytes(salt)
        self._salt = hashlib.blake2b(key, digest_size=32).digest() if key else _PROCESS_SALT
        self._environ: Mapping[str, str] = os.environ if environ is None else environ
        # os.environ's own dict: its len() is a C call, where os.environ's is a Python method (hot path)
        self._environ_data: Mapping[Any, Any] = getattr(self._environ, "_data", self._environ)
        self._argv = argv
        self._names: dict[str, bool] = {}
        self._scrubbed: dict[str, str] = {}
        self._scrubbed_env: tuple[tuple[str, str], ...] = ()
        self._env_values: tuple[tuple[str, str], ...] = ()
        self._env_size = -1
        self._env_checked = 0.0
        self._env_lock = threading.Lock()
        if self._environ is os.environ:
            _watch_environment(self)

    # --- names ---------------------------------------------------------------------------------------------------

    def secret_name(self, name: str) -> bool:
        """Whether a value under this name (argument, key, attribute, variable, ``--flag``) must be redacted."""
        known = self._names.get(name)
        if known is None:
            known = self._classify(name)
            if len(self._names) < _MAX_CACHE:
                self._names[name] = known
        return known

    def _classify(self, name: str) -> bool:
        text = str(name)
        if text.lower().lstrip("-") in self._allow:
            return False
        words = [word.lower() for word in _WORD.findall(text)]
        if not words or any(word in DESCRIPTIVE_WORDS for word in words):
            return False
        count = len(words)
        for parts, glued, plural in self._deny:
            size = len(parts)
            for word in words:  # glued forms: PGPASS, dbpassword, xapikey
                if word not in _ORDINARY_WORDS and (
                    word.endswith(glued) or (plural and word.endswith(glued + "s"))
                ):
                    return True
            if size > 1:
                last = parts[-1]
                for start in range(count - size + 1):
                    if tuple(words[start : start + size - 1]) == parts[:-1]:
                        final = words[start + size - 1]
                        if final == last or (plural and final == last + "s"):
                            return True
        return False

    # --- markers -------------------------------------------------------------------------------------------------

    def digest(self, value: Any) -> str:
        """8 hex digits of a keyed hash of a value (never reversible to it without the key and a guess)."""
        if isinstance(value, str):
            data = value.encode("utf-8", "surrogatepass")
        elif isinstance(value, bytes | bytearray):
            data = bytes(value)
        else:
            data = _stable_text(value).encode("utf-8", "surrogatepass")
        return hashlib.blake2b(data, key=self._salt, digest_size=4).hexdigest()

    def marker(self, value: Any, label: str) -> str:
        """``[REDACTED:<label> len=<n> h=<hash>]``: the shape of a value, never the value."""
        shown = _LABEL_UNSAFE.sub("_", str(label))[:48] or "secret"
        size = f"{type(value).__name__}"
        try:
            if isinstance(value, str | bytes | bytearray):
                size = f"len={len(value)}"
            elif isinstance(value, Mapping | list | tuple | set | frozenset):
                size = f"{type(value).__name__} items={len(value)}"
            digest = self.digest(value)
        except Exception:  # noqa: BLE001 - a user's __len__ or __repr__ raised: the marker says less, never more
            digest = "-"
        return f"{REDACTED}:{shown} {size} h={digest}]"

    # --- text ----------------------------------------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        """Text with every credential format and secret environment value in it replaced by a marker.

        Returns ``text`` itself when nothing was found (or value scanning is off), so callers can test identity.
        """
        size = len(text)
        if not self.scan_values or size < _MIN_SECRET_CHARS:
            return text
        env_values = self._secret_env_values()
        if size > _CACHED_TEXT:
            return self._scrub(text, env_values)
        # Short texts (names, labels, ids, paths) recur: each is scanned once while the environment's secret
        # values stay the same.
        cache = self._scrubbed
        if env_values is not self._scrubbed_env:
            if env_values != self._scrubbed_env:
                cache.clear()
            self._scrubbed_env = env_values
        out = cache.get(text)
        if out is None:
            out = self._scrub(text, env_values)
            if len(cache) < _MAX_CACHE:
                cache[text] = out
        return text if out is text or out == text else out  # the caller's own object when nothing was found

    def _scrub(self, text: str, env_values: tuple[tuple[str, str], ...]) -> str:
        out = text
        for value, name in env_values:
            if value in out:
                out = out.replace(value, self.marker(value, name))
        if "PRIVATE KEY" in out:
            out = _PEM.sub(lambda m: self.marker(m.group(0), "private-key"), out)
        out = self.redact_url(out)
        size = len(out)
        # One guard regex answers "no token prefix here" fastest on short text; on long text the substring tests
        # below are faster than any regex pass.
        if size >= 15 and (size > _SHORT_TEXT or _TOKEN_GUARD.search(out) is not None):
            for guards, pattern, kind in _TOKEN_FORMATS:
                for guard in guards:
                    if guard in out:
                        out = pattern.sub(functools.partial(self._replace_token, kind=kind), out)
                        break
        if "=" in out or ":" in out:
            out = self._replace_pairs(out)
        return text if out == text else out

    def redact_url(self, url: str) -> str:
        """A URL (or text holding URLs) without the passwords in its userinfo, even with value scanning off."""
        if "://" in url and "@" in url:
            return _URL_PASSWORD.sub(self._replace_url_password, url)
        return url

    def _replace_url_password(self, match: re.Match[str]) -> str:
        secret = match.group(2)
        if secret.startswith(REDACTED):
            return match.group(0)
        return f"://{match.group(1)}:{self.marker(secret, 'url-password')}@"

    def _replace_token(self, match: re.Match[str], kind: str) -> str:
        start = match.start()
        if start and match.string[start - 1] in _WORD_CHARS:
            return match.group(0)  # inside a longer word: not this format
        if match.re.groups:  # `Bearer <token>`: keep the scheme word
            found = match.group(1)
            return match.group(0)[: match.start(1) - start] + self.marker(found, kind)
        return self.marker(match.group(0), kind)

    def _replace_pairs(self, text: str) -> str:
        lower = text.lower()
        if len(lower) != len(text):  # a non-ASCII letter changed length when lower-cased: keep positions
            lower = text.translate(_ASCII_LOWER)
        spans: dict[int, tuple[int, str]] = {}
        for stem in _KV_STEMS:
            at = lower.find(stem)
            while at >= 0:
                resume = at + 1
                separator = _KV_SEPARATOR.match(lower, at + len(stem))
                if separator is not None:
                    value_start = separator.end()
                    found = spans.get(value_start)
                    if found is None:
                        found = self._pair_value(text, lower, at, separator.start(1), value_start)
                        if found is not None:
                            spans[value_start] = found
                    if found is not None:
                        resume = max(resume, found[0])  # a stem inside the value is part of that value
                at = lower.find(stem, resume)
        if not spans:
            return text
        parts: list[str] = []
        done = 0
        for value_start in sorted(spans):
            value_end, replacement = spans[value_start]
            if value_start < done:
                continue
            parts.append(text[done:value_start])
            parts.append(replacement)
            done = value_end
        parts.append(text[done:])
        return "".join(parts)

    def _pair_value(
        self, text: str, lower: str, stem_at: int, name_end: int, start: int
    ) -> tuple[int, str] | None:
        """(end of the value, its replacement) of the pair whose name ends at ``name_end`` and whose value starts
        at ``start``, or ``None`` when the name is not secret (the value is then never read) or there is none."""
        begin = stem_at
        while begin > 0 and text[begin - 1] in _NAME_CHARS and stem_at - begin < 64:
            begin -= 1
        name = text[begin:name_end].strip("-_.")
        if not (self.secret_name(name) or name.lower() in _TEXT_ONLY_NAMES):
            return None
        found = _KV_VALUE.match(lower, start)
        if found is None:
            return None
        end = found.end()
        value = text[start:end]
        quote = value[0] if len(value) > 1 and value[0] in "\"'" and value[-1] == value[0] else ""
        inner = value[1:-1] if quote else value
        if not inner or inner.startswith(REDACTED) or inner.lower() in _AUTH_SCHEMES:
            return None
        return end, f"{quote}{self.marker(inner, name)}{quote}"

    def _secret_env_values(self) -> tuple[tuple[str, str], ...]:
        now = time.monotonic()
        if len(self._environ_data) == self._env_size and now - self._env_checked < _ENV_CHECK_S:
            return self._env_values
        environ = self._environ
        with self._env_lock:
            values: dict[str, str] = {}
            try:
                items = list(environ.items())
            except RuntimeError:  # changed while being read; keep the previous values until the next check
                return self._env_values
            for name, value in items:
                if not isinstance(value, str) or len(value) < _MIN_SECRET_CHARS:
                    continue
                if self.secret_name(name):
                    values.setdefault(value, name)
                elif (
                    "://" in value and "@" in value
                ):  # DATABASE_URL=postgres://u:pw@h: the password alone too
                    for match in _URL_PASSWORD.finditer(value):
                        if len(match.group(2)) >= _MIN_SECRET_CHARS:
                            values.setdefault(match.group(2), f"{name}-password")
            for value, flag in self._argv_secrets():
                values.setdefault(value, flag)
            # Longest first, so a value containing another is replaced whole.
            self._env_values = tuple(sorted(values.items(), key=lambda pair: -len(pair[0])))
            self._env_size = len(items)
            self._env_checked = now
        return self._env_values

    def _argv_secrets(self) -> list[tuple[str, str]]:
        """(value, option name) of the command line's secret-named options (``--password=X``, ``--api-token X``)
        whose value is long enough to search for in text (`_MIN_SECRET_CHARS`)."""
        argv = sys.argv[1:] if self._argv is None else self._argv
        return [
            (value, name)
            for _, _, value, name in self._options(argv)
            if name and len(value) >= _MIN_SECRET_CHARS
        ]

    def _options(self, argv: Sequence[object]) -> Iterator[tuple[str, str | None, str, str | None]]:
        """Each argument as (text, flag, value, name): for a secret-named option's value (``--token=X`` or the
        argument after ``--token``) `name` is the option's name, `value` the value and `flag` the text before
        ``=`` (None when the value stands alone); a secret-named flag without ``=`` comes as (text, None, "", "");
        any other argument as (text, None, text, None)."""
        hide_next: str | None = None
        for arg in argv:
            text = arg if isinstance(arg, str) else str(arg)
            if hide_next is not None and not text.startswith("-"):
                yield text, None, text, hide_next
                hide_next = None
                continue
            hide_next = None
            if text.startswith("-") and len(text) > 1:
                flag, sep, value = text.partition("=")
                bare = flag.lstrip("-")
                if bare and self.secret_name(bare):
                    if sep:
                        yield text, flag, value, bare
                    else:
                        hide_next = bare
                        yield text, None, "", ""
                    continue
            yield text, None, text, None

    def refresh_environment(self) -> None:
        """Read the environment's secret values again now (they are re-read at most every half second)."""
        self._env_size = -1

    # --- structures ----------------------------------------------------------------------------------------------

    def is_environment(self, mapping: Any) -> bool:
        """Whether a mapping is the process environment, or a copy of most of it (``dict(os.environ)``)."""
        kind = type(mapping)
        environ = self._environ
        if kind is _ENVIRON_TYPE or mapping is environ:
            return True
        if kind is not dict and not isinstance(mapping, Mapping):
            return False
        needed = max(4, len(self._environ_data) // 2)
        if len(mapping) < needed:  # the common case, decided before any item is read
            return False
        same = 0
        try:
            for name, value in mapping.items():
                if type(name) is str and type(value) is str and environ.get(name) == value:
                    same += 1
                    if same >= needed:
                        return True
        except (RuntimeError, TypeError):
            return False
        return False

    def redact(self, value: Any, name: str | None = None) -> Any:
        """A value with every secret in it replaced by a marker, at any depth; the value itself if it has none.

        Dicts (any mapping), lists, tuples (named ones too), sets, dataclasses, ``argparse.Namespace`` and other
        objects with attributes are walked; containers are copied only where something changed (dataclasses
        and objects come back as a dict of their public fields then). A value under a secret name becomes a
        marker whatever its type; a mapping that is the process environment becomes one marker.
        """
        if name is not None and self.secret_name(name):
            return self.marker(value, name)
        return self._walk(value, 0)

    def redact_pairs(self, pairs: Iterable[tuple[str, Any]]) -> list[tuple[str, Any]]:
        """Keyword arguments or (name, value) pairs, each value redacted under its name."""
        return [(key, self.redact(item, key)) for key, item in pairs]

    def _walk(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            return self.scrub(value)
        if kind in _PLAIN:
            return value
        if depth >= _MAX_DEPTH:
            return self.marker(value, "too-deep")
        if isinstance(value, Mapping):
            if self.is_environment(value):
                return self.marker(dict(value), "environment")
            return self._walk_mapping(value, depth)
        if isinstance(value, tuple) and hasattr(kind, "_fields"):  # a named tuple: its field names are names
            named = dict(zip(kind._fields, value, strict=False))
            redacted = self._walk_mapping(named, depth)
            return value if redacted is named else cast(Any, value)._make(redacted.values())
        if isinstance(value, list | tuple | set | frozenset):
            return self._walk_collection(value, depth)
        if kind.__name__ == "Namespace" and kind.__module__ == "argparse":
            fields = vars(value)
            redacted = self._walk_mapping(fields, depth)
            return value if redacted is fields else kind(**redacted)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
            redacted = self._walk_mapping(fields, depth)
            return value if redacted is fields else redacted
        if isinstance(value, bytes | bytearray | memoryview) or callable(value):
            return value
        attributes = getattr(value, "__dict__", None)
        if isinstance(attributes, dict) and attributes:
            public = {key: item for key, item in attributes.items() if not str(key).startswith("_")}
            redacted = self._walk_mapping(public, depth)
            return value if redacted is public else redacted
        return value

    def _walk_mapping(self, mapping: Mapping[Any, Any], depth: int) -> Any:
        changed: dict[Any, Any] | None = None
        for key, item in mapping.items():
            if type(key) is str and self.secret_name(key):
                new = self.marker(item, key)
            else:
                new = self._walk(item, depth + 1)
            new_key = self.scrub(key) if type(key) is str and len(key) >= 16 else key
            if new is not item or new_key is not key:
                if changed is None:
                    changed = {}
                    for done_key, done_item in mapping.items():
                        if done_key is key:
                            break
                        changed[done_key] = done_item
                changed[new_key] = new
            elif changed is not None:
                changed[key] = item
        return mapping if changed is None else changed

    def _walk_collection(self, value: Any, depth: int) -> Any:
        items = list(value)
        new_items = [self._walk(item, depth + 1) for item in items]
        if all(new is old for new, old in zip(new_items, items, strict=True)):
            return value
        if isinstance(value, set | frozenset):
            return type(value)(new_items) if type(value) in (set, frozenset) else set(new_items)
        return type(value)(new_items) if type(value) in (list, tuple) else list(new_items)

    # --- command lines and environments --------------------------------------------------------------------------

    def command_line(self, argv: Sequence[str]) -> list[str]:
        """A command line with the values of secret-named options (``--token X``, ``--api-key=X``) replaced,
        and every other argument scrubbed (URLs with passwords, tokens, ``PASSWORD=x``)."""
        out: list[str] = []
        for text, flag, value, name in self._options(argv):
            if name == "":  # a secret-named flag whose value follows
                out.append(text)
            elif name is None:
                out.append(self.scrub(text))
            else:
                marker = self.marker(value, name)
                out.append(marker if flag is None else f"{flag}={marker}")
        return out

    def environment(self, environ: Mapping[str, str]) -> dict[str, str]:
        """Variables with secret-named values replaced by a marker and every other value scrubbed."""
        return {
            name: self.marker(value, name) if self.secret_name(name) else self.scrub(value)
            for name, value in environ.items()
        }


_PLAIN = frozenset({int, float, bool, type(None), complex})
_ENVIRON_TYPE = type(os.environ)

# Redactors reading os.environ, told at once when a variable is set or removed through os.environ (a value that
# changes in place keeps the environment's size, so the size check alone would see it only after `_ENV_CHECK_S`,
# and a secret set a moment before a task would be missed).
_WATCHERS: weakref.WeakSet[Redactor] = weakref.WeakSet()
_WATCH_LOCK = threading.Lock()


def _watch_environment(redactor: Redactor) -> None:
    with _WATCH_LOCK:
        _WATCHERS.add(redactor)
        if getattr(_ENVIRON_TYPE, "_provgraph_watched", False):
            return
        set_item, del_item = _ENVIRON_TYPE.__setitem__, _ENVIRON_TYPE.__delitem__

        def __setitem__(self: Any, key: Any, value: Any) -> None:
            set_item(self, key, value)
            if self is os.environ:
                for watcher in list(_WATCHERS):
                    watcher._env_size = -1

        def __delitem__(self: Any, key: Any) -> None:
            del_item(self, key)
            if self is os.environ:
                for watcher in list(_WATCHERS):
                    watcher._env_size = -1

        _ENVIRON_TYPE.__setitem__ = __setitem__  # type: ignore[method-assign]
        _ENVIRON_TYPE.__delitem__ = __delitem__  # type: ignore[method-assign]
        _ENVIRON_TYPE._provgraph_watched = True  # type: ignore[attr-defined]


def _stable_text(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, default=repr, separators=(",", ":"))
    except Exception:  # noqa: BLE001 - unsortable keys, a failing repr, a cycle: the placeholder's identity
        return f"<{type(value).__module__}.{type(value).__qualname__} #{id(value):#x}>"


# --- the process-wide redactor -----------------------------------------------------------------------------------

_active: Redactor | None = None
_active_source: Any = None
_SETTING_NAMES = ("redact_deny", "redact_allow", "redact_scan_values", "redact_salt")


def configure(settings: Any = None) -> Redactor:
    """Build the process-wide redactor from settings (``redact_deny``, ``redact_allow``, ``redact_scan_values``,
    ``redact_salt``; missing ones take their defaults) and make it the active one."""
    global _active, _active_source
    redactor = Redactor(
        deny=getattr(settings, "redact_deny", ()) or (),
        allow=getattr(settings, "redact_allow", ()) or (),
        scan_values=getattr(settings, "redact_scan_values", True),
        salt=getattr(settings, "redact_salt", "") or "",
    )
    _active, _active_source = redactor, settings
    return redactor


def active(settings: Any = None) -> Redactor:
    """The process-wide redactor; rebuilt when ``settings`` is given and its ``redact_*`` settings differ from
    those it was built from (one identity test on the emitter's path; four attributes when the object changed)."""
    global _active_source
    redactor = _active
    if redactor is not None and (settings is _active_source or settings is None):
        return redactor
    if redactor is None:
        return configure(settings)
    source = _active_source
    if all(getattr(settings, name, None) == getattr(source, name, None) for name in _SETTING_NAMES):
        _active_source = settings
        return redactor
    return configure(settings)


def redact_url(url: str) -> str:
    """`Redactor.redact_url` of the active redactor: a server URL for messages and logs."""
    return active().redact_url(url)


def scrub(text: Any) -> str:
    """`Redactor.scrub` of the active redactor, for any object's ``str`` (error messages, log lines); an object
    whose ``str`` fails is named by its type."""
    if not isinstance(text, str):
        try:
            text = str(text)
        except Exception:  # noqa: BLE001 - a user's __str__ (an exception's message) may raise
            text = f"<{type(text).__qualname__}: str() failed>"
    return active().scrub(text)
