"""The workspace links the shared base sheet, then its own; both are served alike."""

import pytest

from tests.integration.stylesheets import check_sheets

pytestmark = pytest.mark.stack


def test_the_pages_link_the_shared_sheet_first_and_both_are_served_alike(http):
    check_sheets(http.get, "/workspace/sign-in",
                 ["/workspace/assets/base.css", "/workspace/assets/workspace.css"], "#12355b")
