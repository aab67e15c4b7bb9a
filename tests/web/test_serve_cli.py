"""`phonotheque serve`: the real command in a subprocess (URL printed, real HTTP), warnings and errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from server_kit import PHONOTHEQUE, running_server
from web_kit import WebArchive

from phonotheque.cli.main import cli
from phonotheque.web.server import bind, is_loopback, url_of


def test_serve_prints_its_url_and_answers_over_http(web: WebArchive) -> None:
    with running_server(web.root) as (url, proc):
        assert url.startswith("http://127.0.0.1:")
        r = httpx.get(url + "api/search", params={"q": "awakening"}, timeout=10)
        assert r.status_code == 200 and r.json()["results"][0]["id"] == web.awakening
        audio = httpx.get(f"{url}api/tracks/{web.awakening}/audio", headers={"Range": "bytes=0-3"}, timeout=10)
        assert audio.status_code == 206 and audio.content == b"OggS"
        assert httpx.get(url, timeout=10).text.startswith("<!doctype html>")
    assert proc.returncode is not None and proc.returncode in (0, -2, 130)
    assert proc.stderr is not None and "Traceback" not in proc.stderr.read()


def test_non_loopback_host_warns(web: WebArchive) -> None:
    # port 70000 fails after the warning, so nothing ever listens on a public address in the tests
    r = CliRunner().invoke(cli, ["serve", "-A", str(web.root), "--host", "0.0.0.0", "--port", "70000"])
    assert "warning: listening on 0.0.0.0, not a loopback address" in r.output
    assert r.exit_code == 1 and "port 70000" in r.output
    r = CliRunner().invoke(cli, ["serve", "-A", str(web.root), "--host", "127.0.0.1", "--port", "70000"])
    assert "warning" not in r.output


def test_serve_errors_are_one_line(tmp_path: Path, web: WebArchive) -> None:
    r = CliRunner().invoke(cli, ["serve", "-A", str(tmp_path / "missing")])
    assert r.exit_code == 1 and "error:" in r.output and "no such archive directory" in r.output
    with bind("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        proc = subprocess.run([PHONOTHEQUE, "serve", "-A", str(web.root), "--port", str(port)],
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and f"error: 127.0.0.1:{port}: cannot listen" in proc.stderr
    assert "Traceback" not in proc.stderr
    r = CliRunner().invoke(cli, ["serve", "-A", str(web.root), "--port", "70000"])
    assert r.exit_code == 1 and "port 70000" in r.output


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                                ("127.8.9.1", True), ("0.0.0.0", False), ("::", False),
                                                ("192.168.1.2", False), ("example.org", False)])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_url_of_brackets_ipv6() -> None:
    assert url_of("::1", 8080) == "http://[::1]:8080/" and url_of("127.0.0.1", 80) == "http://127.0.0.1:80/"


def test_concurrent_clients_on_the_real_server(web: WebArchive) -> None:
    """Many clients at once: each request borrows its own read-only connection; every answer is right."""
    from concurrent.futures import ThreadPoolExecutor

    data = None
    with running_server(web.root, "--log-level", "warning") as (url, _proc):
        with httpx.Client(timeout=30) as one:
            data = one.get(f"{url}api/files/{web.awakening_file}/audio").content

        def work(i: int) -> bool:
            with httpx.Client(timeout=30) as c:
                ok = c.get(url + "api/search", params={"q": "awakening"}).json()["results"][0]["id"] == web.awakening
                ok &= c.get(f"{url}api/tracks/{web.chaos_god}/where").status_code == 451
                start = (i * 7919) % 100_000
                part = c.get(f"{url}api/files/{web.awakening_file}/audio",
                             headers={"Range": f"bytes={start}-{start + 4095}"})
                ok &= part.status_code == 206 and part.content == data[start : start + 4096]
                ok &= c.get(url + "api/stats").json()["tracks"] > 0
                return bool(ok)

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(work, range(32)))
    assert all(results)
