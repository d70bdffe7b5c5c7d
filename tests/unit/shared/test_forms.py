"""A schema's error messages as a form shows them, in Chinese or English (shared/forms.py)."""

import re

import pytest
from marshmallow import Schema, ValidationError, fields, validate

from shared.forms import error_text


class Report(Schema):
    summary = fields.String(required=True, validate=validate.Length(min=1, max=50))
    witnesses = fields.Integer(validate=validate.Range(min=0, max=9))
    category = fields.String(validate=validate.OneOf(["bribery", "other"]))
    code = fields.String(validate=validate.Length(min=4, max=8))
    email = fields.Email()


def messages(data: dict) -> dict[str, str]:
    with pytest.raises(ValidationError) as raised:
        Report().load(data)
    return {field: errors[0] for field, errors in raised.value.messages.items()}


def test_marshmallow_messages_read_in_chinese_with_their_figures():
    shown = {field: error_text(message) for field, message in messages(
        {"summary": "", "witnesses": 12, "category": "x", "code": "ab", "email": "no"}).items()}
    assert shown == {"summary": "此项为必填项，最多 50 字。", "witnesses": "应在 0 至 9 之间。",
                     "category": "请从列表中选择。", "code": "长度应为 4 至 8 字。",
                     "email": "请填写有效的电子邮箱地址。"}
    assert error_text(messages({})["summary"]) == "此项为必填项。"


def test_an_english_page_reads_the_same_wording_from_the_catalog_with_its_figures():
    shown = {field: error_text(message, "en") for field, message in messages(
        {"summary": "", "witnesses": 12, "category": "x", "code": "ab", "email": "no"}).items()}
    assert shown == {"summary": "Length must be between 1 and 50.",
                     "witnesses": "Must be greater than or equal to 0 and less than or equal to 9.",
                     "category": "Choose one from the list.", "code": "Length must be between 4 and 8.",
                     "email": "Not a valid email address."}
    # the catalog, not the message itself: both wordings of "choose from the list" read the same
    assert error_text("Not a valid list.", "en") == shown["category"]
    assert error_text("Required for channel sms.", "en") == (
        "Enter the contact details for the feedback channel you chose.")


def test_an_unknown_message_is_shown_as_it_is():
    assert error_text("Something new.") == "Something new."
    assert error_text("Something new.", "en") == "Something new."


def test_a_page_s_own_wording_comes_first():
    mine = [(re.compile(r"Longer than maximum length (\d+)\."), "最多选择 {0} 项。")]
    assert error_text("Longer than maximum length 3.", first=mine) == "最多选择 3 项。"
    assert error_text("Longer than maximum length 3.") == "最多 3 字。"
