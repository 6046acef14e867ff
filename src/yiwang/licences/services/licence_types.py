"""Creating and editing licence types (电子证照目录) from the staff page, over ``define_licence_type``.

``define_licence_type`` upserts by code (the department's credit code and
the type number), which suits the seed; a person editing the catalogue needs
more (ADR 0021):

* creating never overwrites: a number already used in the department is
  refused;
* editing keeps the code (department and number are the type's identity);
* once licences of a type are issued, what their seals or faces depend on
  stays: the type's name is in every licence's signed claims (renaming it
  would make every issued licence fail its seal check), and a field removed
  or given another type would drop or misread the values on issued
  licences. Labels, required flags, choices, new fields, validity, issuing
  items and material names may change: they apply to licences issued later;
* every issuing item must exist in the catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from yiwang.catalog import selectors as catalog_selectors
from yiwang.licences import policy
from yiwang.licences.models import Licence, LicenceType
from yiwang.licences.services.errors import LicenceError
from yiwang.licences.services.issuance import define_licence_type

if TYPE_CHECKING:
    from yiwang.directory.models import Department


def _locked_changes(licence_type: LicenceType, name: str, fields: list[dict[str, Any]]) -> None:
    if name.strip()[:100] != licence_type.name:
        raise LicenceError(
            "name_locked",
            _("该证照类型已签发证照，证照名称已写入证照签章，不能修改；如需新名称，请新建证照类型"),
            field="name",
        )
    new_types = {str(f.get("key", "")): str(f.get("type", "text")) for f in fields}
    for old in licence_type.fields:
        if old["key"] not in new_types:
            raise LicenceError(
                "field_locked",
                _("该证照类型已签发证照，不能删除照面信息项：%(label)s") % {"label": old["label"]},
                field="fields",
            )
        if new_types[old["key"]] != old["type"]:
            raise LicenceError(
                "field_locked",
                _("该证照类型已签发证照，不能更改照面信息项的类型：%(label)s") % {"label": old["label"]},
                field="fields",
            )


def _check_items(item_codes: list[str]) -> None:
    known = catalog_selectors.item_names(item_codes)
    unknown = [code for code in item_codes if code not in known]
    if unknown:
        raise LicenceError(
            "unknown_items",
            _("事项目录中没有这些事项编码：%(codes)s")
            % {"codes": pgettext("enumeration separator", "、").join(unknown)},
            field="item_codes",
        )


def check_licence_type(
    licence_type: LicenceType | None,
    *,
    department: Department,
    number: int,
    name: str,
    fields: list[dict[str, Any]],
    item_codes: Iterable[str],
) -> None:
    """Refuse (``LicenceError``) what creating or editing a licence type may not do; see the module's rules.

    For an edit, ``department`` and ``number`` must be the type's own: its code does not change.
    """
    _check_items(sorted({code.strip() for code in item_codes if code.strip()}))
    if licence_type is None:
        existing = LicenceType.objects.filter(code=f"{department.credit_code}{number:03d}").first()
        if existing is not None:
            raise LicenceError(
                "type_exists",
                _("该部门已有序号为%(number)03d的证照类型：%(name)s") % {"number": number, "name": existing.name},
                field="number",
            )
        return
    if department.pk != licence_type.department_id or number != int(licence_type.code[-3:]):
        raise LicenceError("code_locked", _("证照类型的发证部门和序号组成证照类型代码，保存后不能修改"))
    if Licence.objects.filter(licence_type=licence_type).exists():
        _locked_changes(licence_type, name, fields)


def save_licence_type(
    *,
    actor: Any,
    licence_type: LicenceType | None,
    department: Department | None,
    number: int,
    name: str,
    holder_kind: str,
    fields: list[dict[str, Any]],
    validity_years: int | None,
    item_codes: Iterable[str],
    material_names: Iterable[str] = (),
    proves_identity: bool | None = None,
) -> LicenceType:
    """Create a licence type (``licence_type=None``) or edit one, as a department or platform administrator.

    Editing ignores ``department`` and ``number``: the type keeps its code. Refusals: ``forbidden``,
    ``type_exists``, ``name_locked``, ``field_locked``, ``unknown_items`` and those of ``define_licence_type``.
    """
    if licence_type is not None:
        department = licence_type.department
        number = int(licence_type.code[-3:])
    if department is None:
        raise LicenceError("department_required", _("请选择发证部门"), field="department")
    if not policy.can_manage_types(actor, department.code):
        raise LicenceError("forbidden", _("您没有权限管理该部门的证照类型"))
    codes = sorted({code.strip() for code in item_codes if code.strip()})
    check_licence_type(licence_type, department=department, number=number, name=name, fields=fields, item_codes=codes)
    return define_licence_type(
        actor=actor,
        department=department,
        number=number,
        name=name,
        holder_kind=holder_kind,
        fields=fields,
        validity_years=validity_years,
        item_codes=codes,
        material_names=material_names,
        proves_identity=proves_identity,
    )
