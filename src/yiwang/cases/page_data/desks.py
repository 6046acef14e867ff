"""The other apps' desks a member of staff may use, for the workbench to link to.

This is the one place where cases knows of the hotline and 好差评: issue 11
replaces it with a desk registry in the kernel, where each app registers its
own desks. Until then the list stays here, in ``other_desks`` alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from yiwang.feedback import policy as feedback_policy
from yiwang.hotline import policy as hotline_policy

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def other_desks(user: Any) -> list[tuple[str, StrOrPromise]]:
    """The hotline and 好差评 desks ``user`` may use, as (address, label), for the workbench to link to.

    Whether a desk is open to the user is those apps' policy's to say; the
    desks themselves check again and answer 403 to anyone else.
    """
    desks: list[tuple[str, StrOrPromise, bool]] = [
        ("hotline:desk", _("12345热线工作台"), hotline_policy.may_use_desk(user)),
        ("hotline:supervision", _("12345工单督办"), hotline_policy.is_supervisor(user)),
        ("feedback:counter", _("窗口服务评价（一次一评）"), feedback_policy.is_counter_clerk(user)),
        ("feedback:phone", _("12345电话代评"), feedback_policy.is_hotline_operator(user)),
        ("feedback:department", _("本部门差评与整改"), feedback_policy.may_appeal(user)),
        ("feedback:supervision", _("好差评监督：疑似刷评与差评申诉"), feedback_policy.is_supervisor(user)),
    ]
    return [(reverse(name), label) for name, label, allowed in desks if allowed]
