"""一网通查: finding the right service item from how people actually ask.

``yiwang.core.text`` normalises and segments Chinese, Traditional Chinese and
pinyin; ``index`` holds an in-memory inverted index with a field-weighted ranking;
``engine`` keeps one index per process current with the database.
"""
