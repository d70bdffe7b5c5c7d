"""The reporter's pages link the shared base sheet, then their own; both are served alike."""

import re

import pytest

pytestmark = pytest.mark.stack


def test_the_pages_link_the_shared_sheet_first_and_both_are_served_alike(client):
    html = client.get("/report").get_data(as_text=True)
    links = re.findall(r'<link rel="stylesheet" href="([^"]+)">', html)
    assert links == ["/assets/reporter/base.css", "/assets/reporter/reporter.css"]
    base, own = (client.get(url) for url in links)
    assert base.status_code == own.status_code == 200
    assert base.mimetype == own.mimetype == "text/css"
    assert "--link: #1d5aa7" in base.get_data(as_text=True)
    assert "--brand: #a4161a" in own.get_data(as_text=True)
    for header in ("Content-Security-Policy", "Cache-Control", "Referrer-Policy"):
        assert base.headers.get(header) == own.headers.get(header), header
