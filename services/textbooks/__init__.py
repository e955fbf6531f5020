"""Browsing by textbook (教材同步): 学段 → 学科 → 版本 → 册次 → 单元 → 课, with counts."""
