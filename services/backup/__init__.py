"""Backup and restore of an embedded installation (`jiaoyun backup` / `jiaoyun restore`)."""
