"""Code lists of unified identity: roles, real-name assurance, relationships."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """Roles a user can hold; staff roles are held within a department (and the ones below it)."""

    APPLICANT = "applicant", _("申请人")
    COUNTER_CLERK = "counter_clerk", _("窗口受理人员")
    REVIEWER = "reviewer", _("审查人员")
    APPROVER = "approver", _("审批人员")
    DEPARTMENT_ADMIN = "department_admin", _("部门管理员")
    HOTLINE_OPERATOR = "hotline_operator", _("12345话务员")
    GRID_WORKER = "grid_worker", _("网格员")
    SUPERVISOR = "supervisor", _("监督人员")
    PLATFORM_ADMIN = "platform_admin", _("平台管理员")


# Roles whose holders work on cases and may, for a stated purpose, read a person's full data.
CASE_ROLES = frozenset({Role.COUNTER_CLERK, Role.REVIEWER, Role.APPROVER})
# Roles a department administrator may grant inside their department; the rest only a platform administrator.
# A 12345 operator is not among them: whatever department the role names, its holder reads every department's
# callers, so granting it would reach beyond the administrator's own department tree.
DEPARTMENT_GRANTABLE_ROLES = frozenset({Role.COUNTER_CLERK, Role.REVIEWER, Role.APPROVER, Role.GRID_WORKER})
# Roles that see every department.
PLATFORM_WIDE_ROLES = frozenset({Role.SUPERVISOR, Role.PLATFORM_ADMIN})
# Roles whose holders work city-wide although they see no department's cases (the one 12345 hotline).
CITY_WIDE_ROLES = frozenset({Role.HOTLINE_OPERATOR})
STAFF_ROLES = frozenset(Role) - {Role.APPLICANT}


class AssuranceLevel(models.IntegerChoices):
    """实名认证等级: how sure the platform is that an account belongs to the named person."""

    SELF_DECLARED = 1, _("一级：自报信息，未核验")
    MOBILE_VERIFIED = 2, _("二级：实名手机号验证")
    IDENTITY_VERIFIED = 3, _("三级：身份信息核验")
    IN_PERSON = 4, _("四级：当面核验并核验电子身份证照")


class AssuranceMethod(models.TextChoices):
    SELF_DECLARED = "self_declared", _("本人填报")
    SMS = "sms", _("短信验证码验证实名手机号")
    ONLINE_IDENTITY = "online_identity", _("在线身份核验")
    COUNTER = "counter", _("窗口核验身份证件原件")
    # Level 3 online: name and resident ID matched against household registration, with a confirmed mobile.
    HOUSEHOLD_REGISTER = "household_register", _("户籍信息比对（已验证实名手机号）")
    # Level 4: the original document checked face to face, and a valid identity e-licence in the wallet.
    COUNTER_WITH_LICENCE = "counter_licence", _("窗口当面核验证件并核验电子身份证照")


# Audit event codes of real-name levels (ADR 0030).
ASSURANCE_RAISED_EVENT = "assurance.raised"
ASSURANCE_CHECKED_EVENT = "assurance.checked"
ASSURANCE_REFUSED_EVENT = "assurance.refused"
ASSURANCE_LOOKUP_EVENT = "assurance.person_looked_up"


class Relationship(models.TextChoices):
    SPOUSE = "spouse", _("配偶")
    CHILD = "child", _("子女")
    PARENT = "parent", _("父母")
    RELATIVE = "relative", _("其他亲属")
    COMMUNITY_WORKER = "community_worker", _("社区（村）工作人员")
    GUARDIAN = "guardian", _("监护人")


class RevealPurpose(models.TextChoices):
    """Why a staff member reads a person's full data: chosen from this list, shown to the person."""

    CONTACT_APPLICANT = "contact_applicant", _("电话联系申请人")
    VERIFY_IDENTITY = "verify_identity", _("核对申请人身份")
    CALLBACK = "callback", _("工单回访")
    CONTACT_CALLER = "contact_caller", _("联系来电人核实诉求")
    DOCUMENT = "document", _("制作办件文书")


class CodePurpose(models.TextChoices):
    REGISTER = "register", _("注册")
    LOGIN = "login", _("登录")
    VERIFY_MOBILE = "verify_mobile", _("验证手机号")
