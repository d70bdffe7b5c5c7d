"""The reporter pages' texts by key, in Chinese and marked for the catalog (shared/i18n.py), which
holds their English; shown through Flask-Babel (shared/catalogs.py) in the request's language."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext

from shared.i18n import N_

TEXTS: dict[str, str] = {
    "site": N_("基层执法领域“微腐败”问题线索举报"),
    "skip": N_("跳到正文"),
    "switch": N_("English"),
    "home": N_("首页"),
    "confidential": N_("您的身份和联系方式严格保密，只用于向您反馈办理情况。"),
    "home_intro": N_("您可以实名或匿名反映基层执法人员吃拿卡要、选择性执法等问题"
                     "。提交后您会得到一个查询码，凭它查询办理进度、补充材料或对"
                     "结果提出异议。"),
    "go_report": N_("我要反映问题"),
    "go_lookup": N_("凭查询码查询办理进度"),
    "report_title": N_("反映问题线索"),
    "report_intro": N_("带 * 的为必填项。"),
    "required": N_("必填"),
    "optional": N_("选填"),
    "about_problem": N_("问题情况"),
    "about_subject": N_("被反映人"),
    "about_you": N_("您的身份"),
    "choose": N_("请选择"),
    "unknown": N_("不清楚"),
    "yes": N_("是"),
    "no": N_("否"),
    "category": N_("问题类别"),
    "summary": N_("问题摘要"),
    "summary_hint": N_("一句话说明发生了什么，最多 500 字。"),
    "details": N_("详细情况"),
    "details_hint": N_("时间、地点、经过、证据等。"),
    "jurisdiction": N_("发生地（区、镇街）"),
    "district_level": N_("区本级"),
    "city_level": N_("市本级"),
    "occurred_on": N_("发生日期"),
    "occurred_on_hint": N_("格式：2024-05-31"),
    "amount_cny": N_("涉及金额（元）"),
    "amount_cny_hint": N_("整数，不清楚可不填。"),
    "collusion": N_("有上下串通或内外勾结的情况"),
    "subject.name": N_("被反映人姓名"),
    "subject.position": N_("职务"),
    "subject.employer": N_("所在单位"),
    "subject.rank": N_("职级"),
    "subject.rank_hint": N_("不确定请选“一般工作人员/辅助人员”。"),
    "subject.party_member": N_("是否党员"),
    "reporter.anonymous": N_("举报方式"),
    "anonymous_yes": N_("匿名举报（只能凭查询码查询结果）"),
    "anonymous_no": N_("实名举报（我们会主动告知办理情况）"),
    "named_only": N_("以下各项仅在实名举报时填写。"),
    "reporter.name": N_("您的姓名"),
    "reporter.channel": N_("接收反馈的方式"),
    "channel_email": N_("电子邮件"),
    "channel_sms": N_("短信"),
    "channel_unavailable": N_("此反馈方式暂不可用，请选择其他方式。"),
    "reporter.contact": N_("电子邮箱或手机号码"),
    "reporter.contact_hint": N_("与上面选择的方式一致，例如 name@example.com 或 1"
                                "3800000000。"),
    "submit": N_("提交"),
    "errors_title": N_("请修改以下问题后再提交："),
    "receipt_title": N_("请记下您的查询码和密码"),
    "receipt_intro": N_("您反映的问题已收到。查询码和密码只显示这一次，我们无法找"
                        "回。请抄写下来或拍照保存，不要告诉他人。"),
    "receipt_code": N_("查询码"),
    "receipt_secret": N_("密码"),
    "received_at": N_("提交时间"),
    "noted": N_("我已记下查询码和密码"),
    "continue": N_("继续"),
    "lookup_title": N_("查询办理进度"),
    "lookup_intro": N_("请输入提交时得到的查询码和密码。"),
    "noted_notice": N_("谢谢。请妥善保管查询码和密码，今后凭它们查询办理进度。"),
    "code": N_("查询码"),
    "code_hint": N_("例如 4F7K-9QXM-2H8D-T6WB，大小写和短横线均可。"),
    "secret": N_("密码"),
    "look_up": N_("查询"),
    "not_found": N_("查询码或密码不正确。"),
    "status_title": N_("办理进度"),
    "status": N_("当前状态"),
    "updates": N_("办理记录"),
    "follow_up_title": N_("补充情况"),
    "message": N_("补充内容"),
    "message_hint": N_("补充新的情况或证据，最多 5000 字。"),
    "objection": N_("我对办理结果有异议"),
    "objection_hint": N_("勾选后案件将重新复查。"),
    "send": N_("发送"),
    "sent_notice": N_("您补充的内容已收到，已转交办理。"),
    "lookup_again": N_("重新查询"),
    "csrf_title": N_("页面已过期"),
    "csrf_body": N_("为了您的安全，请返回重新打开页面后再提交。"),
    "busy_title": N_("操作过于频繁"),
    "busy_body": N_("请 {wait} 秒后再试。"),
    "down_title": N_("系统暂时无法使用"),
    "down_body": N_("请稍后再试，您填写的内容未被保存。"),
    "back": N_("返回"),
    "colon": N_("："),
}


def text(key: str, **values: Any) -> str:
    """The page text `key` in the request's language, with {placeholders} filled."""
    chinese = TEXTS.get(key)
    if chinese is None:
        return key
    chosen = gettext(chinese)
    return chosen.format(**values) if values else chosen


def label(chinese: str) -> str:
    """A vocabulary label (shared/vocabulary.py, Chinese) in the request's language."""
    return gettext(chinese)
