"""What every service's pages owe the shared stylesheet: the base sheet linked first, then the
service's own, both served alike (tests/integration/*_pages/test_stylesheets.py)."""

import re


def check_sheets(get, page: str, sheets: list[str], brand: str) -> None:
    """`page` links exactly `sheets` (base first); both are served as CSS with the same headers, the
    base holding the shared link colour and the service's own sheet its `brand` colour."""
    html = get(page).get_data(as_text=True)
    links = re.findall(r'<link rel="stylesheet" href="([^"]+)">', html)
    assert links == sheets
    base, own = (get(url) for url in links)
    assert base.status_code == own.status_code == 200
    assert base.mimetype == own.mimetype == "text/css"
    assert "--link: #1d5aa7" in base.get_data(as_text=True)
    assert f"--brand: {brand}" in own.get_data(as_text=True)
    for header in ("Content-Security-Policy", "Cache-Control", "Referrer-Policy"):
        assert base.headers.get(header) == own.headers.get(header), header
