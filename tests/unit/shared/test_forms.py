"""A schema's error messages as a Chinese form shows them (shared/forms.py)."""

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


def test_an_english_page_keeps_the_schema_message_and_an_unknown_one_is_shown_as_it_is():
    assert error_text("Not a valid date.", "en") == "Not a valid date."
    assert error_text("Something new.") == "Something new."


def test_a_page_s_own_wording_comes_first():
    mine = [(re.compile(r"Longer than maximum length (\d+)\."), "最多选择 {0} 项。")]
    assert error_text("Longer than maximum length 3.", first=mine) == "最多选择 3 项。"
    assert error_text("Longer than maximum length 3.") == "最多 3 字。"
