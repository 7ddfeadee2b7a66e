"""``python -m keilog``: the ``keilog`` command line."""

from keilog.cli import main

if __name__ == "__main__":
    main()
