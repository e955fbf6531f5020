"""Classes (班级): per school year, with their students, head teacher and subject teachers."""
