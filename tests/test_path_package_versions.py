"""A package at a version is neither an e-mail nor an Internet address; those stay redacted.

SPEC 4.1 redacts a segment holding an e-mail or an Internet address. Two readings took
versions for them, so an analyst saw `:redacted` where the page was a package's:
* `svelte@5.2.7`, `/npm/lodash@4.17.21/` (npm, unpkg, jsDelivr write a package at a version
  so) read as an e-mail address: a top-level domain is letters, never a number;
* a four-part version read as an IPv4 address: `/releases/v4.2.1.0`, and the version in a
  wheel's or an installer's name (`opencv_python-4.10.0.84-cp37-abi3-win_amd64.whl`,
  `mysql-installer-community-8.0.40.0.msi`).
An address in any other place (a bare segment, a log's or a report's name, a host name)
stays redacted: where a quad's context does not say "version", it is taken for an address.
"""

from __future__ import annotations

import pytest

from analytics.paths import REDACTED, extract_utm, redact_path

PACKAGES_AT_A_VERSION = [
    "/package/svelte@5.2.7",
    "/package/@sveltejs/kit@2.9.0",
    "/package/@scope/name@1.2.3",
    "/npm/lodash@4.17.21/",
    "/npm/lodash@4.17.21/lodash.min.js",
    "/npm/vue@3.5.0-beta.1/dist/vue.global.js",
    "/npm/vue@3.5.0-beta/",
    "/npm/react@18.3.1",
    "/gh/twbs/bootstrap@5.3.3/dist/css/bootstrap.min.css",
    "/x/user@localhost",  # no dot: no domain on the Internet (as `pkg@latest` stays)
]

E_MAIL_ADDRESSES = [
    "/u/john@example.com",
    "/u/a.b+tag@sub.example.co.uk",
    "/u/john%40example.com",  # encoded twice: `%40` is left in the decoded path
    "/u/john@example.com.2024",  # a label after a dot starts with a letter: not only the last
    "/u/jane@mail.2example.com",
    "/u/jane@münchen.de",
    "/u/ivan@example.xn--p1ai",
    "/u/ivan@пример.рф",
    "/u/a@b@example.org",
    "/u/john@example.com,jane",
]

VERSIONS = [
    "/releases/v4.2.1.0",
    "/download/app-v10.0.0.1",
    "/tags/V1.2.3.4",
    "/x/numpy-1.26.4.0-cp311-cp311-win_amd64.whl",
    "/x/opencv_python-4.10.0.84-cp37-abi3-win_amd64.whl",
    "/x/nvidia_cublas_cu12-12.4.5.8-py3-none-manylinux2014_x86_64.whl",
    "/x/mysql-installer-community-8.0.40.0.msi",
    "/x/Tool_Setup_1.2.3.4.exe",
    # not quads (kept before too)
    "/download/app-10.0.19041.1",
    "/Chrome/131.0.6778.85",
    "/x/1.2.3.4.5",
    "/x/Newtonsoft.Json.13.0.3.1.nupkg",
]

ADDRESSES = [
    "/whois/198.51.100.1",
    "/10.0.0.1/",
    "/h/ip-10-0-0-1",
    "/logs/host-198.51.100.7.log",  # a name and a file, but not a package's
    "/x/scan-10.0.0.1.xml",
    "/x/app-10.0.0.1",  # a name before, no package file: privacy wins
    "/x/10.0.0.1.zip",  # no name before
    "/x/ip-10.0.0.1.zip",  # a package file named for an address
    "/x/host_198.51.100.7.tar.gz",
    "/x/dev10.0.0.1",  # `v` inside a word: not a version's
    "/x/ipv4.2.3.4",
    "/x/release-v4.2.1.0-from-198.51.100.7.zip",  # a version, then an address
    "/x/198.51.100.7-build-v1.2.3.4.whl",
]


@pytest.mark.parametrize("path", PACKAGES_AT_A_VERSION)
def test_a_package_at_a_version_is_not_an_e_mail_address(path: str) -> None:
    assert redact_path(path) == path


@pytest.mark.parametrize("path", E_MAIL_ADDRESSES)
def test_e_mail_addresses_stay_redacted(path: str) -> None:
    assert REDACTED in redact_path(path)
    assert "@" not in redact_path(path)


@pytest.mark.parametrize("path", VERSIONS)
def test_a_four_part_version_is_not_an_internet_address(path: str) -> None:
    assert redact_path(path) == path


@pytest.mark.parametrize("path", ADDRESSES)
def test_internet_addresses_stay_redacted(path: str) -> None:
    assert REDACTED in redact_path(path)


def test_campaign_tags_follow_the_same_rules() -> None:
    assert extract_utm(b"utm_campaign=svelte%405.2.7&utm_source=v4.2.1.0") == (
        "v4.2.1.0",
        None,
        "svelte@5.2.7",
    )
    assert extract_utm(b"utm_campaign=john%40example.com&utm_source=198.51.100.7") == (
        REDACTED,
        None,
        REDACTED,
    )


def test_many_quads_in_a_long_package_name_cost_one_pass() -> None:
    # The flusher judges every new path: each quad looks at its context, never at the whole
    # 16 kB segment again.
    import time

    segment = "pkg-" + "-".join(["1.2.3.4"] * 2000) + ".whl"
    started = time.thread_time()
    redact_path.cache_clear()
    assert redact_path(f"/p/{segment}") == f"/p/{REDACTED}"  # quads after the first: addresses
    assert time.thread_time() - started < 0.5
