"""The shared HTTP sessions' helpers: an answer's body as one readable line for an error."""

import pytest
import requests

from cdp_bridge.http_sessions import body_excerpt


def answer(body, content_type="text/html; charset=utf-8"):
    response = requests.Response()
    response.status_code = 502
    response._content = body.encode()
    response.encoding = "utf-8"
    response.headers["Content-Type"] = content_type
    return response


@pytest.mark.parametrize(
    ("body", "content_type", "excerpt"),
    [
        (
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center>"
            "<h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body></html>",
            "text/html",
            "502 Bad Gateway nginx",
        ),
        (
            "<!doctype html><title>Maintenance</title><style>p {}</style><script>x()</script>"
            "<p>Back at 10:00 &mdash; sorry</p>",
            "text/html",
            "Maintenance: Back at 10:00 — sorry",
        ),
        ("<p>An HTML page sent as text</p>", "text/plain", "An HTML page sent as text"),
        ('{"error":\n  "a <b> c"}', "application/json", '{"error": "a <b> c"}'),
        ("", "text/html", ""),
    ],
)
def test_a_body_is_one_line_of_readable_text(body, content_type, excerpt):
    assert body_excerpt(answer(body, content_type)) == excerpt


def test_a_long_body_is_cut_with_an_ellipsis():
    text = body_excerpt(answer("word " * 100), limit=160)
    assert len(text) == 160 and text.endswith("word…")


def test_a_secret_is_masked_before_the_cut_could_leave_a_part_of_it():
    secret = "0a1b2c3d-4e5f6a7b-8c9d0e1f-2a3b4c5d"
    body = "word " * 28 + secret  # the cut at 160 would fall inside the secret
    text = body_excerpt(answer(body), limit=160, replacements={secret: "0a1b…4c5d"})
    assert text.endswith("word 0a1b…4c5d")
    assert "2c3d" not in text
