"""The one text normaliser (core.text): Simplified, width, pinyin, and the two segmenters."""

from __future__ import annotations

from yiwang.core import text


def test_traditional_becomes_simplified_and_full_width_becomes_ascii() -> None:
    assert text.to_simplified("辦理營業執照") == "办理营业执照"
    assert text.half_width("ＡＢＣ１２３") == "ABC123"
    assert text.normalise("  辦理　ＡＢＣ\u200b營業執照  ") == "办理 abc 营业执照"
    assert text.fold("辦理\n\n ＡＢＣ  證") == "办理 abc 证"


def test_normalise_blanks_characters_fold_keeps() -> None:
    # The search normaliser screens out private-use characters; the classifier's lighter fold does not.
    assert text.normalise("社\ue000保") == "社 保"
    assert text.fold("社\ue000保") == "社\ue000保"


def test_pinyin_and_initials() -> None:
    assert text.pinyin("社保卡") == "shebaoka"
    assert text.initials("社保卡") == "sbk"
    assert text.has_chinese("a社") and not text.has_chinese("abc")
    assert text.is_latin_query("she bao") and not text.is_latin_query("社保")


def test_the_domain_dictionary_comes_from_the_shipped_data_file() -> None:
    words = text.load_words(text.DOMAIN_WORDS)
    assert "一网通办" in words and all(not word.startswith("#") for word in words)
    assert "一网通办" in text.segment("我要一网通办")
    assert text.tokenizer() is text.tokenizer()  # one instance per process


def test_words_taught_to_search_do_not_change_the_plain_words() -> None:
    # A made-up word no other test uses: the search tokenizer is shared by the whole process.
    sentence = "门口犇羴鱼积水"
    before = text.plain_words(sentence)
    assert "犇羴鱼" not in before and "犇羴鱼" not in text.segment(sentence)
    text.add_words(["犇羴鱼"])
    assert "犇羴鱼" in text.segment(sentence)
    assert text.plain_words(sentence) == before
    assert all(not word.isspace() for word in text.plain_words("a  b"))


def test_bigrams_cover_only_chinese_runs() -> None:
    assert text.bigrams("社保卡ab办理") == ["社保", "保卡", "办理"]


def test_the_search_tokenizer_reads_jiebas_table_with_its_own_words_on_top() -> None:
    # It holds only the words added to it; everything else is the plain tokenizer's table, unchanged.
    search, plain = text.tokenizer(), text._plain()
    assert "一网通办" in search.FREQ and "一网通办" not in plain.FREQ
    assert search.FREQ["天气"] == plain.FREQ["天气"] == search.FREQ.get("天气") > 0
    assert "犇犇犇犇" not in search.FREQ and search.FREQ.get("犇犇犇犇") is None
    assert search.FREQ.get("犇犇犇犇", 7) == 7
    # A word's prefixes are added with it (count 0), as jieba does for its own words.
    text.add_words(["羴羴鱼塘"])
    assert search.FREQ["羴羴鱼塘"] > 0 and search.FREQ["羴羴"] == 0 and "羴羴" not in plain.FREQ
    assert search.total > plain.total


def test_shared_pinyin_readings_give_the_same_pinyin_and_are_never_changed_by_use() -> None:
    from pypinyin import Style, pinyin

    # Phrases whose characters have several readings: the phrase table decides.
    assert text.pinyin("银行") == "yinhang" and text.pinyin("行长") == "hangzhang"
    assert text.pinyin("重庆") == "chongqing"
    first = pinyin("银行", style=Style.TONE)
    first[0][0] = "changed"
    assert pinyin("银行", style=Style.TONE) == [["yín"], ["háng"]]
