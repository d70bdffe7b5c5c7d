"""The reporter's pages' text in Chinese and English: labels, notices and the schema's error messages."""

from __future__ import annotations

import re
from typing import Any

TEXTS: dict[str, tuple[str, str]] = {
    "site": ("基层执法领域“微腐败”问题线索举报", "Report petty corruption in grassroots law enforcement"),
    "skip": ("跳到正文", "Skip to content"),
    "switch": ("English", "中文"),
    "home": ("首页", "Home"),
    "confidential": ("您的身份和联系方式严格保密，只用于向您反馈办理情况。",
                     "Your identity and contact details are kept strictly confidential and used only to "
                     "tell you how your report is handled."),
    "home_intro": ("您可以实名或匿名反映基层执法人员吃拿卡要、选择性执法等问题。提交后您会得到一个查询码，"
                   "凭它查询办理进度、补充材料或对结果提出异议。",
                   "You can report, with your name or anonymously, law-enforcement staff who ask for "
                   "favours, enforce selectively and the like. You get a receipt to follow the handling, "
                   "add information or object to the result."),
    "go_report": ("我要反映问题", "Report a problem"),
    "go_lookup": ("查询办理进度", "Check progress with your receipt"),
    "report_title": ("反映问题线索", "Report a problem"),
    "report_intro": ("带 * 的为必填项。", "Fields marked * are required."),
    "required": ("必填", "required"),
    "optional": ("选填", "optional"),
    "about_problem": ("问题情况", "The problem"),
    "about_subject": ("被反映人", "The person reported"),
    "about_you": ("您的身份", "About you"),
    "choose": ("请选择", "Choose"),
    "unknown": ("不清楚", "Not sure"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "category": ("问题类别", "Kind of problem"),
    "summary": ("问题摘要", "Summary"),
    "summary_hint": ("一句话说明发生了什么，最多 500 字。",
                     "One sentence on what happened, up to 500 characters."),
    "details": ("详细情况", "Details"),
    "details_hint": ("时间、地点、经过、证据等。", "When, where, what happened, any evidence."),
    "jurisdiction": ("发生地（区、镇街）", "Where it happened (district, town)"),
    "district_level": ("区本级", "district level"),
    "city_level": ("市本级", "city level"),
    "occurred_on": ("发生日期", "Date it happened"),
    "occurred_on_hint": ("格式：2024-05-31", "As 2024-05-31"),
    "amount_cny": ("涉及金额（元）", "Amount involved (CNY)"),
    "amount_cny_hint": ("整数，不清楚可不填。", "Whole yuan; leave empty if unknown."),
    "collusion": ("有上下串通或内外勾结的情况", "Several people acted together (collusion)"),
    "subject.name": ("被反映人姓名", "Name of the person reported"),
    "subject.position": ("职务", "Position"),
    "subject.employer": ("所在单位", "Employer"),
    "subject.rank": ("职级", "Rank"),
    "subject.rank_hint": ("不确定请选“一般工作人员/辅助人员”。", "If unsure, choose staff."),
    "subject.party_member": ("是否党员", "Party member"),
    "reporter.anonymous": ("举报方式", "How you report"),
    "anonymous_yes": ("匿名举报（只能凭查询码查询结果）", "Anonymously (follow up with your receipt only)"),
    "anonymous_no": ("实名举报（我们会主动告知办理情况）", "With my name (we will tell you how it goes)"),
    "named_only": ("以下各项仅在实名举报时填写。",
                   "Fill in the following only when reporting with your name."),
    "reporter.name": ("您的姓名", "Your name"),
    "reporter.channel": ("接收反馈的方式", "How we contact you"),
    "channel_email": ("电子邮件", "Email"),
    "channel_sms": ("短信", "Text message (SMS)"),
    "channel_unavailable": ("此反馈方式暂不可用，请选择其他方式。",
                            "This way of hearing back is not available; choose another."),
    "reporter.contact": ("电子邮箱或手机号码", "Email address or mobile number"),
    "reporter.contact_hint": ("与上面选择的方式一致，例如 name@example.com 或 13800000000。",
                              "Matching the way chosen above, e.g. name@example.com or +8613800000000."),
    "submit": ("提交", "Submit"),
    "errors_title": ("请修改以下问题后再提交：", "Please fix the following:"),
    "receipt_title": ("请记下您的查询码和密码", "Write down your receipt"),
    "receipt_intro": ("您反映的问题已收到。查询码和密码只显示这一次，我们无法找回。请抄写下来或拍照保存，"
                      "不要告诉他人。", "We have received your report. The receipt code and secret are shown "
                      "only this once and cannot be recovered. Write them down or photograph them, and "
                      "keep them to yourself."),
    "receipt_code": ("查询码", "Receipt code"),
    "receipt_secret": ("密码", "Secret"),
    "received_at": ("提交时间", "Received"),
    "noted": ("我已记下查询码和密码", "I have written down the code and the secret"),
    "continue": ("继续", "Continue"),
    "lookup_title": ("查询办理进度", "Check progress"),
    "lookup_intro": ("请输入提交时得到的查询码和密码。", "Enter the receipt code and secret you were given."),
    "noted_notice": ("谢谢。请妥善保管查询码和密码，今后凭它们查询办理进度。",
                     "Thank you. Keep the code and secret safe; use them to check progress later."),
    "code": ("查询码", "Receipt code"),
    "code_hint": ("例如 4F7K-9QXM-2H8D-T6WB，大小写和短横线均可。",
                  "e.g. 4F7K-9QXM-2H8D-T6WB; case and dashes do not matter."),
    "secret": ("密码", "Secret"),
    "look_up": ("查询", "Look up"),
    "not_found": ("查询码或密码不正确。", "The receipt code or secret is not right."),
    "status_title": ("办理进度", "Progress"),
    "status": ("当前状态", "Status"),
    "updates": ("办理记录", "Updates"),
    "follow_up_title": ("补充情况", "Add information"),
    "message": ("补充内容", "Your message"),
    "message_hint": ("补充新的情况或证据，最多 5000 字。", "New facts or evidence, up to 5,000 characters."),
    "objection": ("我对办理结果有异议", "I object to the result"),
    "objection_hint": ("勾选后案件将重新复查。", "Ticking this reopens the case for review."),
    "send": ("发送", "Send"),
    "sent_notice": ("您补充的内容已收到，已转交办理。", "Your message has been received and passed on."),
    "lookup_again": ("重新查询", "Look up another receipt"),
    "csrf_title": ("页面已过期", "This page has expired"),
    "csrf_body": ("为了您的安全，请返回重新打开页面后再提交。", "For your safety, go back, reload the page "
                  "and submit again."),
    "busy_title": ("操作过于频繁", "Too many attempts"),
    "busy_body": ("请 {wait} 秒后再试。", "Please try again in {wait} seconds."),
    "down_title": ("系统暂时无法使用", "Temporarily unavailable"),
    "down_body": ("请稍后再试，您填写的内容未被保存。", "Please try again later; nothing was saved."),
    "back": ("返回", "Go back"),
    "colon": ("：", ": "),
    # the supervision card holder's page (card_pages)
    "card_title": ("廉政监督卡意见反馈", "Supervision card feedback"),
    "card_intro": (
        "您可以对执法人员的执法工作提出意见和建议。意见严格保密，有专人跟进核查，"
        "提交后您会得到一个查询码，凭它查询核查情况。",
        "Tell us what you think of the enforcement work. Your feedback is confidential and "
        "followed up; you get a receipt to see how it is handled.",
    ),
    "card_bureau": ("发卡单位", "Bureau"),
    "card_place": ("发放场所", "Handed out at"),
    "card_number": ("卡号", "Card number"),
    "card_unknown": (
        "没有这张监督卡，请核对卡上的编码。",
        "No card has this code; check the code on the card.",
    ),
    "card_name_hint": (
        "可不填：只反映单位执法作风的问题也可以。",
        "Optional: feedback on the bureau as a whole is fine.",
    ),
}

STATUS_EN = {"received": "Received", "accepted": "Accepted", "transferred": "Passed to a higher level",
             "closed": "Closed"}
CATEGORY_EN = {
    "solicitation": "Asking for gifts or favours", "bribery": "Bribery",
    "extortion": "Threats, protection money",
    "selective_enforcement": "Selective enforcement", "passive_enforcement": "Failure to enforce",
    "tip_off": "Tipping off offenders", "shielding": "Shielding offenders",
    "business_steering": "Steering business to favoured firms", "entrapment": "Entrapment",
    "obstruction": "Deliberate obstruction or delay", "other": "Other",
}
RANK_EN = {"staff": "Staff or auxiliary staff", "village": "Village (community) cadre",
           "section": "Section level", "division": "Division level", "bureau": "Bureau level"}

_ZH_ERRORS: dict[str, str] = {
    "Missing data for required field.": "此项为必填项。",
    "Not a valid email address.": "请填写有效的电子邮箱地址。",
    "Not a valid integer.": "请填写整数。",
    "Not a valid date.": "请填写有效的日期，例如 2024-05-31。",
    "Must not be in the future.": "日期不能晚于今天。",
    "Not allowed for an anonymous reporter.": "匿名举报时不能填写此项。",
    "Must be + followed by 6 to 20 digits, e.g. +8613800000000.": "请填写有效的手机号码，例如 13800000000。",
}
_ZH_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Length must be between 1 and (\d+)\."), "此项为必填项，最多 {0} 字。"),
    (re.compile(r"Length must be between (\d+) and (\d+)\."), "长度应为 {0} 至 {1} 字。"),
    (re.compile(r"Longer than maximum length (\d+)\."), "最多 {0} 字。"),
    (re.compile(r"Must be greater than or equal to (\d+) and less than or equal to (\d+)\."),
     "应在 {0} 至 {1} 之间。"),
    (re.compile(r"Must be one of: .*"), "请从列表中选择。"),
    (re.compile(r"Must be a lowercase path .*"), "请从列表中选择。"),
    (re.compile(r"Required for channel .*"), "请填写与所选反馈方式对应的联系方式。"),
]


def error_text(message: str, lang: str) -> str:
    """A schema error message in the page's language (English messages are the schema's own)."""
    if lang == "en":
        return message
    if message in _ZH_ERRORS:
        return _ZH_ERRORS[message]
    for pattern, text in _ZH_PATTERNS:
        match = pattern.fullmatch(message)
        if match:
            return text.format(*match.groups())
    return message


def text(key: str, lang: str, **values: Any) -> str:
    """The page text `key` in `lang`, with {placeholders} filled."""
    pair = TEXTS.get(key)
    if pair is None:
        return key
    chosen = pair[1] if lang == "en" else pair[0]
    return chosen.format(**values) if values else chosen
