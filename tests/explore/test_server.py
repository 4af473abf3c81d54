"""A real uvicorn server on 127.0.0.1: the API over HTTP, its limits, and the port rules."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request

import pytest

from minicnn.explore.server import DEFAULT_PORT, bind


def request(url: str, body: bytes | None = None, content_type: str = "application/json",
            headers: dict | None = None) -> tuple[int, dict | str]:
    call = urllib.request.Request(url, data=body, headers={
        **({"Content-Type": content_type} if body is not None else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(call, timeout=60) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def test_the_api_over_http(shipped_explorer, serve_explorer):
    url = serve_explorer(shipped_explorer)
    assert url.startswith("http://127.0.0.1:")
    status, model = request(url + "api/model")
    assert status == 200 and model["model"] == "LeNet5"
    status, page = request(url)
    assert status == 200 and "minicnn explore" in page
    status, answer = request(url + "api/backward", json.dumps(
        {"input": {"test_index": 0}, "target": "label"}).encode())
    assert status == 200 and answer["target"] == 7
    for body, content_type, expected in [
        (b"{not json", "application/json", 400),
        (b'{"input": {"test_index": -1}}', "application/json", 400),
        (b'{"input": {"test_index": 0}}', "text/plain", 415),
    ]:
        status, error = request(url + "api/forward", body, content_type)
        assert status == expected, f"{body[:30]!r}: expected {expected}, got {status} {error}"
        assert isinstance(error, dict) and error["error"]
    # A body declared too large is refused before a byte of it is read.
    host, port = url.removeprefix("http://").strip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.putrequest("POST", "/api/forward")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(64 * 2**20))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413 and "larger than" in json.loads(response.read())["error"]
    connection.close()
    status, _ = request(url + "api/model", headers={"Host": "attacker.example"})
    assert status == 400, "a DNS-rebinding page gets nothing"
    status, answer = request(url + "api/forward", b'{"input": {"test_index": 0}}')
    assert status == 200 and answer["prediction"] == 7, "still serving after the errors"


def test_bind_takes_the_default_port_or_any_free_one():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}.*--port"):
            bind("127.0.0.1", port)
    sock = bind("127.0.0.1", None)
    try:
        assert sock.getsockname()[1] == DEFAULT_PORT or sock.getsockname()[1] > 0
    finally:
        sock.close()


def test_serve_opens_the_page_and_stops(monkeypatch):
    import threading

    from minicnn.explore import server
    from minicnn.explore.session import Explorer

    explorer = Explorer.from_run(load_dataset=False)
    servings, opened, lines = [], [], []
    real_prepare = server.prepare

    def prepare(*args, **kwargs):
        servings.append(real_prepare(*args, **kwargs))
        return servings[-1]

    def open_page(url):
        opened.append(url)
        status, model = request(url + "api/model")
        assert status == 200 and model["model"] == "LeNet5", "the page's server answers"
        servings[0].server.should_exit = True  # as Ctrl-C would

    monkeypatch.setattr(server, "prepare", prepare)
    monkeypatch.setattr(server.webbrowser, "open", open_page)
    thread = threading.Thread(target=server.serve, args=(explorer, "127.0.0.1", 0),
                              kwargs={"log": lines.append})
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the server stopped"
    assert opened == [servings[0].url], "the browser was sent to the page"
    assert lines[0].startswith(f"minicnn explore: {explorer.source} at {servings[0].url}")
    assert lines[-1] == "minicnn explore: stopped"
