"""``python -m crnn``: the same command line as the ``crnn`` script."""

from crnn.cli import main

if __name__ == "__main__":
    main(prog_name="crnn")
