# keilog firmware package. One module per job; hardware only in hal_*.
VERSION = (0, 1, 0)
