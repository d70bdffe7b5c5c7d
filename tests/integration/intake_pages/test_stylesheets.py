"""The reporter's pages link the shared base sheet, then their own; both are served alike."""

import pytest

from tests.integration.stylesheets import check_sheets

pytestmark = pytest.mark.stack


def test_the_pages_link_the_shared_sheet_first_and_both_are_served_alike(client):
    check_sheets(client.get, "/report",
                 ["/assets/reporter/base.css", "/assets/reporter/reporter.css"], "#a4161a")
