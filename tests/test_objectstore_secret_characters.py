"""A secret access key holds `/` and `+` as often as not (AWS prints them base64-like), and a
pasted one may hold `?` or `#`: a spool URL or an endpoint carrying such a key is refused or
masked like any other, never echoed. The CLI's one-line errors go through the same masking,
also once a local path has collapsed ``s3a://`` to ``s3a:/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.cli import main
from analytics.objectstore import mask_credentials, parse_spool_url

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
# What follows the first URL-special character is what a naive parse leaks as "the path".
SECRETS = [
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "wJalrXUtnFEMI+K7MDENG/bPxRfiCYEXAMPLEKEY",
    "wJalrXUtnFEMI?K7MDENGbPxRfiCYEXAMPLEKEY",
    "wJalrXUtnFEMI#K7MDENGbPxRfiCYEXAMPLEKEY",
]


def _pieces(secret: str) -> list[str]:
    """Every run of the secret between URL-special characters: none may be shown."""
    for mark in "/+?#":
        secret = secret.replace(mark, " ")
    return secret.split()


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize(
    "template",
    ["s3://{key}:{secret}@bucket/prefix", "s3://{key}:{secret}@bucket", "s3://:{secret}@bucket/p"],
)
def test_a_spool_url_whose_secret_holds_url_characters_is_refused_unrepeated(
    secret: str, template: str
) -> None:
    # Before: urlsplit ended the host at the secret's '/', '?' or '#', and the error for
    # "a port" quoted the whole URL, secret and all.
    with pytest.raises(ValueError, match="credentials") as info:
        parse_spool_url(template.format(key=KEY_ID, secret=secret))
    for piece in _pieces(secret):
        assert piece not in str(info.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bucket/prefix/user@example.com", ("bucket", "prefix/user@example.com")),
        ("s3://bucket/a:b@c", ("bucket", "a:b@c")),
        ("s3://bucket/p+q/r", ("bucket", "p+q/r")),
    ],
)
def test_an_at_sign_or_colon_in_the_prefix_is_still_a_prefix(
    url: str, expected: tuple[str, str]
) -> None:
    assert parse_spool_url(url) == expected


@pytest.mark.parametrize("secret", SECRETS[:2])
@pytest.mark.parametrize(
    ("template", "shown"),
    [
        ("http://minio:{secret}@10.0.0.5:9000/b", "http://***@10.0.0.5:9000/b"),
        ("endpoint URL: 'https://minio:{secret}@s3.example.com'", "'https://***@s3.example.com'"),
        # A local path collapses '//' ("s3a:/..."), as the CLI's "no such folder" quotes it.
        ("spool folder 's3a:/minio:{secret}@bucket/p' does not", "'s3a:/***@bucket/p'"),
    ],
)
def test_a_password_with_a_slash_is_masked_whole(secret: str, template: str, shown: str) -> None:
    masked = mask_credentials(template.format(secret=secret))
    assert shown in masked
    for piece in _pieces(secret):
        assert piece not in masked


@pytest.mark.parametrize(
    "text",
    [
        'endpoint URL: "http://127.0.0.1:9000/b/k@v"',
        "http://host:8080/users/me@example.com",
        "cannot download s3://b/p/day=2026-11-28/a@b.parquet",
        "spool folder '/srv/var:old/spool@2' does not exist",
    ],
)
def test_a_port_and_a_path_with_an_at_sign_are_not_masked(text: str) -> None:
    assert mask_credentials(text) == text


@pytest.mark.parametrize("scheme", ["S3", "s3a", "s3n", "gs"])
def test_rollup_given_credentials_in_an_unknown_scheme_prints_one_line_without_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scheme: str
) -> None:
    # Not s3:// (so taken for a local folder); Path() collapses its '//' and the message
    # quoted "s3a:/AKIA...:secret@bucket/p", which the masking (looking for '://') missed.
    secret = SECRETS[1]
    spool = f"{scheme}://{KEY_ID}:{secret}@bucket/p"
    assert main(["rollup", "--spool", spool, "--db", str(tmp_path / "a.duckdb")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics: error: ")
    assert err.count("\n") == 1
    for piece in _pieces(secret):
        assert piece not in err
