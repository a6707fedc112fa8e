"""Normalisation: width, case, punctuation, traditional characters, synonyms, jieba words."""

from __future__ import annotations

from knowledge_base.normalise import Normaliser


def test_width_case_punctuation_and_spaces_fold() -> None:
    assert Normaliser().normalise("  ＨＥＬＬＯ，　退款？？  ok ") == "hello 退款 ok"


def test_traditional_chinese_becomes_simplified() -> None:
    assert Normaliser().normalise("發票怎麼開") == "发票怎么开"


def test_synonyms_map_variants_to_the_canonical_word_longest_first() -> None:
    n = Normaliser({"退款": ["退钱", "退錢", "把钱退回"], "花呗": ["花唄"]})
    assert n.normalise("花唄怎么退錢") == "花呗怎么退款"
    assert n.normalise("能把钱退回吗") == "能退款吗"


def test_words_use_jieba_for_chinese_and_spaces_for_latin() -> None:
    n = Normaliser()
    assert n.words(n.normalise("我想退款 refund please")) == ["我", "想", "退款", "refund", "please"]


def test_chinese_digits_become_arabic_digits() -> None:
    assert Normaliser().normalise("七天無理由退貨，兩天到") == "7天无理由退货 2天到"
