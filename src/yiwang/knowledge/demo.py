"""The demo city's knowledge base: a few answers staff wrote, published, so that `make run` shows a filled
knowledge base (the portal search, the assistant and the 12345 desk all read it).

Loading is idempotent: an entry already loaded (by its ``demo:`` key) is left as it is.
"""

from __future__ import annotations

from yiwang.catalog import selectors as catalog_selectors

from . import services
from .constants import EntryKind
from .models import Entry

# (key, department, kind, question forms, answer, source, names of linked items)
ENTRIES = [
    (
        "id-card-lost",
        "police",
        EntryKind.ANSWER,
        ["身份证丢了怎么补办", "居民身份证遗失了去哪里补领", "身份证掉了怎么办"],
        "居民身份证丢失后，请先到户籍所在地或居住地的公安派出所户籍窗口申请补领，也可以在示范市政务服务网上申请。"
        "需本人到场采集照片和指纹，带上户口簿（未满16周岁的由监护人陪同）。补领工本费40元，一般15个工作日内制好，"
        "可以选择邮寄到家。急需乘车乘机的，可以在窗口同时申领临时居民身份证。",
        "《中华人民共和国居民身份证法》第十一条",
        ["居民身份证补领", "临时居民身份证申领"],
    ),
    (
        "open-restaurant",
        "market",
        EntryKind.ANSWER,
        ["开饭店要办什么证", "开一家小餐馆需要哪些手续", "开餐饮店要办理哪些许可"],
        "开饭店一般要办两件事：先办营业执照（个体工商户设立登记或企业设立登记），再办食品经营许可证。"
        "在示范市政务服务网的“我要开饭店”一件事里可以一次申请，材料只交一次。"
        "经营场所要符合食品安全要求，涉及消防、排污的还需按要求办理。",
        "示范市“一件事一次办”工作方案",
        ["个体工商户设立登记", "企业设立登记"],
    ),
    (
        "social-card-lost",
        "hrss",
        EntryKind.ANSWER,
        ["社保卡丢了怎么办", "社会保障卡遗失如何挂失补办"],
        "社保卡丢失后请尽快挂失：可以拨打12345热线、到社保经办窗口或合作银行网点办理临时挂失，"
        "也可以在示范市政务服务网上挂失。挂失后到人社部门或合作银行网点申请补卡，带上本人身份证。",
        "",
        ["社会保障卡挂失与补换"],
    ),
    (
        "housing-fund-withdraw-rent",
        "housing_fund",
        EntryKind.POLICY,
        ["租房可以提取公积金吗", "没有买房能不能取住房公积金付房租"],
        "可以。在本市无自有住房、租房自住的职工，可以申请提取住房公积金支付房租，每年可提取一次。"
        "有租赁备案合同的按合同租金提取，没有备案的按本市规定的额度提取。提取时需要本人身份证和银行卡。",
        "示范市住房公积金提取管理办法",
        [],
    ),
    (
        "medical-remote-filing",
        "medical_security",
        EntryKind.ANSWER,
        ["去外地看病医保怎么报销", "异地就医怎么备案", "在外地住院能直接用医保结算吗"],
        "到外地就医前先办理异地就医备案，备案后在当地的定点医院可以直接刷医保卡或医保电子凭证结算，不用先垫钱再回来报销。"
        "备案可以在国家医保服务平台APP或示范市政务服务网上办理，一般当天生效。",
        "",
        ["异地就医备案"],
    ),
]


def create_demo_entries() -> list[str]:
    """Publish the demo entries not loaded yet; returns their first questions."""
    created = []
    for key, department, kind, questions, answer, source, item_names in ENTRIES:
        external_key = f"demo:{key}"
        if Entry.objects.filter(external_key=external_key).exists():
            continue
        items = catalog_selectors.published_items(department=department).filter(name__in=item_names)
        draft = services.create_entry(
            actor=None,
            department_code=department,
            content=services.EntryContent(
                kind=kind,
                questions=questions,
                answer=answer,
                source_text=source,
                item_codes=[item.code for item in items],
            ),
            external_key=external_key,
        )
        services.publish_version(draft, actor=None, skip_review=True)
        created.append(questions[0])
    return created
