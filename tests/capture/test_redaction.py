"""Unit tests of capture._redaction: names, value formats, structures, command lines, environments, markers."""

from __future__ import annotations

import argparse
import collections
import dataclasses
import os
from typing import Any

import pytest

from capture._redaction import REDACTED, Redactor, active, configure, scrub

# Credential-shaped test values, built at run time so no scanner flags this file (none of them is real).
AWS_KEY = "AKIA" + "Q7XZ3KD9RT2MW8PL"
GITHUB = "ghp_" + "k3Jd9sQpLm2Xv7RtYw8ZaBc4EfGh6Ij1Nn0O"
GITHUB_PAT = "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"
GITLAB = "glpat-" + "Xy7zK2mN9pQr4sTu6vWx"
SLACK = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
OPENAI = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh3iJk6lMn9o"
OPENAI_LEGACY = "sk-" + "T3BlbkFJ" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6"
ANTHROPIC = "sk-ant-api03-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa-_AbCdEf"
GOOGLE = "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"
GOOGLE_OAUTH = "ya29." + "a0AfH6SMBx7Yz9Kq2Lm4Np6Rs8Tu0Vw"
STRIPE = "sk_live_" + "51HqLyjWDarjtT1zdp7dc"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    + "."
    + "eyJzdWIiOiIxMjM0NTY3ODkwIn0"
    + "."
    + "SflKxwRJSMeKKF2QT4fwpM"
)
PEM = (
    "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7Yq3\nq9Zl0x8v\n-----END " + "RSA PRIVATE KEY-----"
)

FORMATS = {
    "aws-access-key": AWS_KEY,
    "github-token": GITHUB,
    "github-pat": GITHUB_PAT,
    "gitlab-token": GITLAB,
    "slack-token": SLACK,
    "openai-key": OPENAI,
    "openai-legacy": OPENAI_LEGACY,
    "anthropic-key": ANTHROPIC,
    "google-api-key": GOOGLE,
    "google-oauth": GOOGLE_OAUTH,
    "stripe-key": STRIPE,
    "jwt": JWT,
    "private-key": PEM,
}


@pytest.fixture
def redactor():
    return Redactor(salt="test-salt", environ={})


SECRET_NAMES = [
    "password",
    "db_password",
    "dbPassword",
    "DB-PASSWORD",
    "passwd",
    "PGPASS",
    "PGPASSWORD",
    "smtp_pass",
    "pw",
    "db_pw",
    "passphrase",
    "secret",
    "client_secret",
    "AWS_SECRET_ACCESS_KEY",
    "secrets",
    "token",
    "GITHUB_TOKEN",
    "access_token",
    "refresh_token",
    "X-Auth-Token",
    "session_token",
    "api_key",
    "apikey",
    "APIKey",
    "x-api-key",
    "OPENAI_API_KEY",
    "api key",
    "private_key",
    "private key",
    "privateKey",
    "ssh_key",
    "encryption_key",
    "session_key",
    "credentials",
    "credential",
    "MY_CREDS",
    "GCP_CREDS",
    "auth",
    "Authorization",
    "Proxy-Authorization",
    "oauth",
    "cookie",
    "Set-Cookie",
    "cookies",
    "jwt",
    "--api-token",
    "password_hash",
]

ORDINARY_NAMES = [
    "session_id",
    "session",
    "SESSION",
    "author",
    "authors",
    "tokenizer",
    "tokenizer_name",
    "tokens",
    "max_tokens",
    "input_tokens",
    "total_tokens",
    "token_count",
    "pad_token",
    "prompt_token_count",
    "candidates_token_count",
    "tokens_in",
    "cache_read_input_tokens",
    "eos_token",
    "password_file",
    "PGPASSFILE",
    "token_url",
    "auth_type",
    "secret_name",
    "key",
    "keys",
    "sort_key",
    "primary_key",
    "public_key",
    "monkey",
    "keyboard",
    "keyword",
    "bypass",
    "compass",
    "GIT_ASKPASS",
    "pass_rate",
    "PWD",
    "OLDPWD",
    "HOME",
    "PATH",
    "USER",
    "is_private",
    "private",
    "commit_sha",
    "run_id",
    "uuid",
    "file_hash",
    "sha256",
    "path",
    "learning_rate",
    "epochs",
    "x",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names_are_found_on_word_parts(redactor, name):
    assert redactor.secret_name(name), name


@pytest.mark.parametrize("name", ORDINARY_NAMES)
def test_ordinary_names_are_not_secret(redactor, name):
    assert not redactor.secret_name(name), name


def test_deny_setting_adds_entries_and_allow_exempts_names():
    redactor = Redactor(deny=["pin", "x_custom"], allow=["GITHUB_TOKEN"], environ={})
    assert redactor.secret_name("card_pin") and redactor.secret_name("X_CUSTOM")
    assert redactor.secret_name("db_password"), "the built-in entries stay"
    assert not redactor.secret_name("GITHUB_TOKEN") and not redactor.secret_name("github_token")
    assert redactor.secret_name("GITLAB_TOKEN")


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_value_formats_are_redacted_inside_text(redactor, kind):
    secret = FORMATS[kind]
    text = f"calling with {secret} now"
    scrubbed = redactor.scrub(text)
    assert secret not in scrubbed
    assert scrubbed.startswith("calling with [REDACTED:") and scrubbed.endswith(" now")


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("postgres://app:hunter2-pw@db.internal:5432/prod", "hunter2-pw"),
        ("redis://:redispass99@127.0.0.1:6379/0", "redispass99"),
        ("bolt://neo4j:n30j-Pw!@host:7687", "n30j-Pw!"),
        ("mongodb+srv://u:p@ss@cluster0.example.net/db", "p@ss"),
        ("host=db user=app password=libpq-pw-77 dbname=prod", "libpq-pw-77"),
        ("Server=tcp:db;User Id=sa;Password=Ado-Pw_19;Encrypt=true", "Ado-Pw_19"),
        ("Driver={SQL Server};Uid=sa;Pwd=odbc-pw-42;", "odbc-pw-42"),
        ("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0a2V5;", "c2VjcmV0a2V5"),
        ("https://api.example.com/v1/items?api_key=qs-key-123456&page=2", "qs-key-123456"),
        ('{"db_password": "json-pw-001", "user": "u"}', "json-pw-001"),
        ("{'client_secret': 'repr-secret-9'}", "repr-secret-9"),
        ("Authorization: Bearer abc.def-ghi_jkl0123456", "abc.def-ghi_jkl0123456"),
        ("export MY_TOKEN=shell-token-xyz", "shell-token-xyz"),
        ("--password=cli-pw-123", "cli-pw-123"),
    ],
)
def test_passwords_in_urls_and_connection_strings(redactor, text, secret):
    scrubbed = redactor.scrub(text)
    assert secret not in scrubbed, scrubbed
    assert REDACTED in scrubbed


def test_url_keeps_everything_but_the_password(redactor):
    scrubbed = redactor.scrub("postgres://app:hunter2-pw@db.internal:5432/prod")
    assert scrubbed.startswith("postgres://app:[REDACTED:url-password len=10 h=")
    assert scrubbed.endswith("]@db.internal:5432/prod")


ORDINARY_VALUES = [
    "3f786850e387550fdab836ed7e6dc881de23001b",  # git SHA-1
    "9b74c9897bac770ffc029102a200c5de",  # md5
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # sha256 of a file
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "123e4567-e89b-12d3-a456-426614174000",  # UUID
    "pgid:run_9f1c2e7a_0001",
    "/home/alice/projects/model/checkpoints/epoch_0010.pt",
    "C:\\Users\\alice\\data\\train.csv",
    "https://github.com/org/repo/blob/main/README.md",
    "https://example.com:8443/path/to/@alice/profile",
    "session_id=7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "sk-learn-model-v2-final-2024-01-01.pkl",
    "risk-assessment-report-2024-final-version-2",
    "token_count: 1234, max_tokens: 4096",
    "the key insight: passing tests matter",
    "keyboard=us; author=alice",
    "learning_rate=0.001 epochs=10 batch_size=32",
    "AKIA",
    "eyJ is how base64 JSON starts",
    "",
    "short",
]


@pytest.mark.parametrize("value", ORDINARY_VALUES)
def test_ordinary_values_are_left_alone(redactor, value):
    assert redactor.scrub(value) is value


def test_secret_environment_values_are_found_anywhere_in_text():
    environ = {"MY_PASSWORD": "Tr0ub4dor&3", "HOME": "/home/alice", "DEPLOY_TOKEN": "plain-but-secret"}
    redactor = Redactor(environ=environ)
    text = "failed: could not log in with Tr0ub4dor&3 (home /home/alice); token plain-but-secret"
    scrubbed = redactor.scrub(text)
    assert "Tr0ub4dor&3" not in scrubbed and "plain-but-secret" not in scrubbed
    assert "[REDACTED:MY_PASSWORD len=11" in scrubbed and "/home/alice" in scrubbed
    environ["NEW_SECRET"] = "added-later-value"
    assert "added-later-value" not in redactor.scrub("x added-later-value"), "a new variable is seen"


def test_passwords_of_urls_in_the_environment_are_found_alone():
    redactor = Redactor(environ={"DATABASE_URL": "postgres://app:Db-Pass-4471@db/prod"})
    scrubbed = redactor.scrub("auth failed for app (password Db-Pass-4471)")
    assert "Db-Pass-4471" not in scrubbed and "[REDACTED:DATABASE_URL-password len=12" in scrubbed


def test_short_environment_values_are_not_searched_in_text():
    redactor = Redactor(environ={"MY_PASSWORD": "abc"})
    assert redactor.scrub("abcdef abc") == "abcdef abc"  # too short to search for without false positives


def test_value_scanning_switch():
    redactor = Redactor(scan_values=False, environ={"MY_PASSWORD": "Tr0ub4dor&3"})
    assert redactor.scrub(f"{GITHUB} Tr0ub4dor&3") == f"{GITHUB} Tr0ub4dor&3"
    assert redactor.redact({"password": "x"})["password"].startswith(REDACTED), "names still apply"


def test_marker_keeps_shape_never_value(redactor):
    marker = redactor.marker("hunter22", "db_password")
    assert marker.startswith("[REDACTED:db_password len=8 h=") and "hunter22" not in marker
    assert redactor.marker("hunter22", "other").split("h=")[1] == marker.split("h=")[1], (
        "same value, same hash"
    )
    assert redactor.marker("hunter23", "db_password") != marker
    assert Redactor(salt="another").marker("hunter22", "db_password") != marker, "the hash is salted"
    assert Redactor().marker("hunter22", "x") == Redactor().marker("hunter22", "x"), (
        "one random key per process"
    )
    assert Redactor().marker("hunter22", "x") != Redactor(salt="s").marker("hunter22", "x")
    assert redactor.marker({"a": 1}, "creds").startswith("[REDACTED:creds dict items=1 h=")
    assert redactor.marker(1234, "pin").startswith("[REDACTED:pin int h=")


@dataclasses.dataclass
class DbConfig:
    host: str
    password: str
    options: dict


class Plain:
    def __init__(self) -> None:
        self.user = "u"
        self.api_key = "plain-object-key"


Pair = collections.namedtuple("Pair", "name token")


def test_structures_at_any_depth(redactor):
    value = {
        "level1": {
            "level2": [
                {"level3": {"password": "deep-pw-1", "note": f"uses {GITHUB}"}},
                ("tuple", {"db_password": "deep-pw-2"}),
                {f"in a set {SLACK}"},
            ]
        },
        "config": DbConfig("db", "dc-pw-3", {"auth": ("user", "dc-pw-4")}),
        "ns": argparse.Namespace(api_token="ns-token-5", epochs=3),
        "pair": Pair("n", "nt-token-6"),
        "object": Plain(),
        "n": 3,
        "dsn": "postgres://u:dsn-pw-7@h/db",
    }
    redacted = redactor.redact(value)
    text = repr(redacted)
    for secret in (
        "deep-pw-1",
        "deep-pw-2",
        GITHUB,
        SLACK,
        "dc-pw-3",
        "dc-pw-4",
        "ns-token-5",
        "nt-token-6",
        "plain-object-key",
        "dsn-pw-7",
    ):
        assert secret not in text, secret
    assert redacted["n"] == 3 and redacted["config"]["host"] == "db"
    assert isinstance(redacted["ns"], argparse.Namespace) and redacted["ns"].epochs == 3
    assert isinstance(redacted["pair"], Pair) and redacted["pair"].name == "n"
    assert isinstance(redacted["level1"]["level2"][1], tuple)
    assert value["config"].password == "dc-pw-3", "the caller's objects are never changed"


def test_unchanged_values_are_returned_as_is(redactor):
    value = {"a": [1, 2, {"b": "text"}], "c": (1.5, None), "d": {"x"}}
    assert redactor.redact(value) is value
    big = list(range(1000))
    assert redactor.redact(big) is big


def test_named_value_is_redacted_whatever_its_type(redactor):
    assert redactor.redact({"user": "u", "pw": "x"}, "creds").startswith("[REDACTED:creds dict items=2")
    assert redactor.redact(123456, "pin_token").startswith("[REDACTED:pin_token int")
    assert redactor.redact_pairs([("api_key", "k-123456"), ("x", 1)]) == [
        ("api_key", redactor.marker("k-123456", "api_key")),
        ("x", 1),
    ]


def test_process_environment_is_one_marker():
    redactor = Redactor()
    assert redactor.is_environment(os.environ)
    assert redactor.is_environment(dict(os.environ))
    assert redactor.is_environment({**os.environ, "EXTRA": "1"})
    assert redactor.redact(dict(os.environ)).startswith("[REDACTED:environment dict items=")
    assert redactor.redact({"env": os.environ})["env"].startswith("[REDACTED:environment")
    small = {name: os.environ[name] for name in list(os.environ)[:2]}
    assert not redactor.is_environment(small)


def test_command_line(redactor):
    argv = [
        "train.py",
        "--api-token=tok-cli-1",
        "--password",
        "pw-cli-2",
        "--epochs",
        "3",
        "--db",
        "postgres://u:pw-cli-3@h/db",
        f"--note={GITHUB}",
        "--verbose",
        "--secret",
        "--dry-run",
        "SECRET_KEY=pw-cli-4",
    ]
    out = redactor.command_line(argv)
    text = " ".join(out)
    for secret in ("tok-cli-1", "pw-cli-2", "pw-cli-3", GITHUB, "pw-cli-4"):
        assert secret not in text, secret
    assert out[0] == "train.py" and out[4:6] == ["--epochs", "3"] and out[2] == "--password"
    assert out[-3:-1] == ["--secret", "--dry-run"], "a flag after a secret flag is not a value"


def test_environment_snapshot(redactor):
    environ = {
        "PGPASS": "pgpass-value",
        "MY_CREDS": "creds-value",
        "DATABASE_URL": "postgres://u:env-pw@h/db",
        "SESSION_ID": "abc-123",
        "HOME": "/home/alice",
    }
    shown = redactor.environment(environ)
    text = repr(shown)
    assert "pgpass-value" not in text and "creds-value" not in text and "env-pw" not in text
    assert shown["SESSION_ID"] == "abc-123" and shown["HOME"] == "/home/alice"
    assert shown["DATABASE_URL"].startswith("postgres://u:[REDACTED:url-password")


def test_scrub_is_idempotent(redactor):
    once = redactor.scrub(f"password={GITHUB} url=redis://:abcdef@h {JWT}")
    assert redactor.scrub(once) == once


def test_active_redactor_follows_settings():
    class FakeSettings:
        redact_deny = ["pin"]
        redact_allow: list[str] = []
        redact_scan_values = True
        redact_salt = "s"

    settings = FakeSettings()
    try:
        redactor = configure(settings)
        assert active() is redactor and active(settings) is redactor
        assert redactor.secret_name("card_pin")
        assert REDACTED in scrub(f"x {GITHUB}")
        assert scrub(ValueError("plain")) == "plain"
    finally:
        configure(None)


# --- in records (the walk that describes values) --------------------------------------------------------------------


def test_value_description_redacts_in_the_same_walk(redactor):
    from capture._values import value_attrs

    def text_of(value):
        return repr(value_attrs(value, redactor))

    nested = {"a": {"b": {"c": {"password": "pw-deep-1", "n": 1}}}, "note": f"see {GITHUB}"}
    assert "pw-deep-1" not in text_of(nested) and GITHUB not in text_of(nested)
    assert "[REDACTED:password len=9" in text_of(nested)
    big = {f"k{i}": i for i in range(100)} | {"api_key": "key-in-a-big-dict"}
    assert "key-in-a-big-dict" not in text_of(dict(reversed(list(big.items()))))  # summarised head
    long_text = "x " * 125 + GITHUB + " y" * 1500
    assert "ghp_" not in text_of(long_text), "a secret across the head's cut is found whole"
    assert text_of(DbConfig("h", "pw-dc-2", {})).count("pw-dc-2") == 0
    assert "nt-token-3" not in text_of(Pair("n", "nt-token-3")) and '["n",' in text_of([Pair("n", "x")])
    assert text_of({"x": 1, "y": [1, 2]}) == repr(
        value_attrs({"x": 1, "y": [1, 2]}, Redactor(scan_values=False))
    )


def test_environment_passed_to_a_task_is_one_marker():
    from capture._values import value_attrs

    attrs = dict(value_attrs(dict(os.environ), Redactor()))
    assert attrs["pg:redacted"] is True and attrs["prov:value"].startswith(
        "[REDACTED:environment dict items="
    )
    assert "pg:json" not in attrs


def test_tasks_record_no_secret(memory_emitter, monkeypatch):
    import capture

    monkeypatch.setenv("MY_TEST_PASSWORD", "env-secret-value-77")
    active().refresh_environment()

    @capture.task(output_names="token", custom_metadata={"api_key": "meta-secret-1"}, tags=[f"t {SLACK}"])
    def work(dsn, options, note, **kwargs):
        raise_it = options["fail"]
        if raise_it:
            raise ValueError(f"failed with env-secret-value-77 and {JWT}")
        return "issued-token-2"

    with capture.Workflow("w", args={"db": "postgres://u:wf-pw-3@h/db", "epochs": 3}) as run:
        work(
            "postgres://u:dsn-pw-4@h/db",
            {"fail": False, "creds": {"password": "opt-pw-5"}},
            GITHUB,
            pw="kw-6",
        )
        try:
            work("x", {"fail": True}, "n")
        except ValueError:
            pass
    text = repr(memory_emitter.records(run.id))
    for secret in (
        "meta-secret-1",
        SLACK,
        "env-secret-value-77",
        JWT,
        "issued-token-2",
        "wf-pw-3",
        "dsn-pw-4",
        "opt-pw-5",
        GITHUB,
        "kw-6",
    ):
        assert secret not in text, secret
    assert "'epochs': 3" in text or '"epochs":3' in text


def test_old_setting_names_point_to_the_new_ones(tmp_path):
    from capture.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="redact_env_deny is now redact_deny"):
        Settings.load(redact_env_deny=["x"])
    settings_file = tmp_path / "settings.yaml"
    settings_file.write_text("redact_env_allow: [HOME]\n")
    with pytest.raises(SettingsError, match="now 'redact_allow'"):
        Settings.load(settings_file)
    assert Settings().redact_scan_values is True and Settings().redact_deny == []


def test_remembered_scans_never_outlive_a_new_secret_in_the_environment():
    """Short texts are scanned once while the environment's secret values stay the same; a secret added later is
    found in a text scanned (and remembered) before it existed."""
    environ = {"HOME": "/home/u"}
    redactor = Redactor(environ=environ)
    text = "connect with s3cr3t-value-42 now"
    assert redactor.scrub(text) is text
    assert redactor.scrub("".join(["connect with ", "s3cr3t-value-42 now"])) == text  # remembered, equal text
    environ["MY_PASSWORD"] = "s3cr3t-value-42"
    redactor.refresh_environment()
    scrubbed = redactor.scrub(text)
    assert "s3cr3t-value-42" not in scrubbed and "[REDACTED:MY_PASSWORD" in scrubbed
    del environ["MY_PASSWORD"]
    redactor.refresh_environment()
    assert redactor.scrub(text) is text


def test_name_value_pairs_are_found_in_one_pass_over_long_text(monkeypatch):
    """A text with a secret-looking stem every few characters and no stop character (`bypass=bypass=...`) was
    scanned quadratically (100 KB: 11 s on the emitter, or on the calling thread for a prompt): each value is read
    at most once now, and only after its name is found secret."""
    from capture import _redaction

    real = _redaction._KV_VALUE
    read: list[int] = []

    class Counting:
        def match(self, text: str, pos: int) -> Any:
            found = real.match(text, pos)
            read.append(0 if found is None else found.end() - pos)
            return found

    monkeypatch.setattr(_redaction, "_KV_VALUE", Counting())
    text = "bypass=" * 3000 + " " + "pass=" * 3000 + " token:" * 3000 + " x_pass=1;" * 3000
    out = Redactor(environ={}).scrub(text)
    assert sum(read) <= len(text)  # every character read as a value at most once
    assert out.startswith("bypass=" * 3000 + " pass=[REDACTED:pass len=")  # `bypass` is not a secret name
    assert out.count("x_pass=[REDACTED:x_pass len=1 ") == 3000


def test_a_secret_variable_changed_in_place_is_known_at_once(monkeypatch):
    """Setting an existing variable keeps the environment's size: the redactor learns of it from os.environ itself,
    not half a second later (a task called right after would have been recorded with the new secret)."""
    monkeypatch.setenv("PG_TEST_API_TOKEN", "first-value-" + "a1" * 8)
    redactor = Redactor()
    assert "[REDACTED:PG_TEST_API_TOKEN" in redactor.scrub("using first-value-" + "a1" * 8)
    redactor._env_checked = float("inf")  # no refresh by time in this test: only os.environ's own notice
    second = "second-value-" + "b2" * 8
    os.environ["PG_TEST_API_TOKEN"] = second
    assert second not in redactor.scrub(f"using {second} now")
    del os.environ["PG_TEST_API_TOKEN"]
    monkeypatch.setenv("PG_OTHER", "x")  # same size again, the secret gone: no longer searched for
    assert redactor.scrub(f"using {second} now") == f"using {second} now"


def test_every_secret_setting_is_a_secret_name_where_capture_records_it():
    """The machine snapshot records the environment by name: a secret setting's variable (the redaction salt, with
    which every short secret's marker hash can be guessed) must be redacted by name like a password."""
    import dataclasses as dc

    from capture.settings import Settings

    secret = [f for f in dc.fields(Settings) if f.metadata.get("secret")]
    assert {f.name for f in secret} >= {"neo4j_password", "redact_salt"}
    redactor = Redactor(environ={})
    for f in secret:
        assert redactor.secret_name(f.name) and redactor.secret_name(f.metadata["env"]), f.name
    snapshot = redactor.environment({"PROVGRAPH_REDACT_SALT": "pepper-" + "c3" * 8, "PROVGRAPH_HOME": "/h"})
    assert snapshot["PROVGRAPH_REDACT_SALT"].startswith("[REDACTED:PROVGRAPH_REDACT_SALT len=")
    assert snapshot["PROVGRAPH_HOME"] == "/h"
