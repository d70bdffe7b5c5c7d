"""The campaign's controlled vocabulary: the codes of DOMAIN.md and API.md, with Chinese labels.

Every service validates and displays these codes from here; the tuples keep DOMAIN.md's order.
The labels marked `N_` have their translations in the catalog (shared/i18n.py).
"""

from shared.i18n import N_

SOURCE_LABELS: dict[str, str] = {
    "observer": "廉情观察员",
    "supervision_card": "廉政监督卡",
    "public_report": "群众来信来访/网络举报",
    "inspection": "监督检查发现",
    "referral": "上级交办/部门移送",
    "review": "回头看",
}
SOURCES: tuple[str, ...] = tuple(SOURCE_LABELS)

CATEGORY_LABELS: dict[str, str] = {
    "solicitation": N_("吃拿卡要"),
    "bribery": N_("索贿受贿"),
    "extortion": N_("威胁恐吓/收保护费"),
    "selective_enforcement": N_("选择性执法"),
    "passive_enforcement": N_("消极执法"),
    "tip_off": N_("通风报信"),
    "shielding": N_("包庇纵容"),
    "business_steering": N_("违规推介业务"),
    "entrapment": N_("自导自演/仙人跳"),
    "obstruction": N_("故意刁难/拖延办理"),
    "other": N_("其他"),
}
CATEGORIES: tuple[str, ...] = tuple(CATEGORY_LABELS)

# Ordered from lowest to highest: RANKS.index() compares ranks (干部管理权限).
RANK_LABELS: dict[str, str] = {
    "staff": N_("一般工作人员/辅助人员"),
    "village": N_("村(社区)干部"),
    "section": N_("科级"),
    "division": N_("处级"),
    "bureau": N_("厅局级"),
}
RANKS: tuple[str, ...] = tuple(RANK_LABELS)

DISPOSITION_LABELS: dict[str, str] = {
    "talk_inquiry": N_("谈话函询"),
    "preliminary_verification": N_("初步核实"),
    "shelved": N_("暂存待查"),
    "concluded": N_("予以了结"),
    "transferred": N_("移送有关单位"),
}
DISPOSITIONS: tuple[str, ...] = tuple(DISPOSITION_LABELS)

OUTCOME_LABELS: dict[str, str] = {
    "unfounded": N_("查无实据"),
    "reminder_talk": N_("提醒谈话"),
    "admonition_talk": N_("诫勉谈话"),
    "reassigned": N_("调离岗位"),
    "restitution": N_("责令退还"),
    "party_discipline": N_("党纪处分"),
    "administrative_sanction": N_("政务处分"),
    "prosecution": N_("移送司法机关"),
    "cleared": N_("澄清正名"),
}
OUTCOMES: tuple[str, ...] = tuple(OUTCOME_LABELS)

# How a real-name reporter is told; `inbox` means receipt look-up only.
CHANNEL_LABELS: dict[str, str] = {
    "email": "电子邮件",
    "sms": "短信",
    "webhook": "网络回调",
    "inbox": "查询码查询",
}
CHANNELS: tuple[str, ...] = tuple(CHANNEL_LABELS)

# The reporter-facing status of a clue (API.md, receipt look-up).
CLUE_STATUS_LABELS: dict[str, str] = {
    "received": N_("已收到"),
    "accepted": N_("已受理"),
    "transferred": N_("已转上级办理"),
    "closed": N_("已办结"),
}
CLUE_STATUSES: tuple[str, ...] = tuple(CLUE_STATUS_LABELS)

ESCALATION_REASON_LABELS: dict[str, str] = {
    "rank": "超出干部管理权限",
    "conflict": "利益冲突/反映本单位领导",
    "amount": "涉案金额较大",
    "repeat": "多次被反映",
    "collusion": "上下串通/内外勾结",
    "network": "关联网络/协作办案",
    "overdue": "逾期未办结",
    "manual": "上级指定提级",
}
ESCALATION_REASONS: tuple[str, ...] = tuple(ESCALATION_REASON_LABELS)

ESCALATION_MODE_LABELS: dict[str, str] = {
    "direct_investigation": "提级直查",
    "supervised": "重点督办",
}
ESCALATION_MODES: tuple[str, ...] = tuple(ESCALATION_MODE_LABELS)

# Who a clue names besides its subject (关系图): firms, intermediaries, relatives.
PARTY_KIND_LABELS: dict[str, str] = {
    "firm": "企业",
    "intermediary": "中介机构",
    "relative": "亲属",
}
PARTY_KINDS: tuple[str, ...] = tuple(PARTY_KIND_LABELS)

# Where supervision cards (廉政监督卡) are handed out.
PLACE_KIND_LABELS: dict[str, str] = {
    "building_site": "建筑工地",
    "muck_truck_fleet": "渣土车队",
    "shop": "商铺",
    "service_window": "服务窗口",
}
PLACE_KINDS: tuple[str, ...] = tuple(PLACE_KIND_LABELS)

# The groups integrity observers (廉情观察员) are chosen from.
OBSERVER_BACKGROUND_LABELS: dict[str, str] = {
    "veteran_party_member": "老党员",
    "village_cadre": "村(社区)干部",
    "village_representative": "村民代表",
    "merchant": "商家",
    "veteran": "退伍军人",
}
OBSERVER_BACKGROUNDS: tuple[str, ...] = tuple(OBSERVER_BACKGROUND_LABELS)

# What a commission sends a bureau after its cases (查办一案、警示一片、规范一方).
RECOMMENDATION_KIND_LABELS: dict[str, str] = {
    "discipline": "纪律检查建议",
    "supervision": "监察建议",
}
RECOMMENDATION_KINDS: tuple[str, ...] = tuple(RECOMMENDATION_KIND_LABELS)
# The review of old clues (大起底/回头看): what had been done with an old clue before the import.
PRIOR_DISPOSITION_LABELS: dict[str, str] = {
    "handled": "已办结",
    "in_progress": "在办未结",
    "not_handled": "未处置",
}
PRIOR_DISPOSITIONS: tuple[str, ...] = tuple(PRIOR_DISPOSITION_LABELS)
