"""Assignments (布置作业/学习任务) given to classes, submissions and their review."""
