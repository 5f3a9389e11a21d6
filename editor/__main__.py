"""`python -m editor check [options]`: the editors' tool."""

import sys

from editor import check

USAGE = "usage: python -m editor check [--content DIR] [--theme DIR] [--min-ease N] [-v]"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] != ["check"]:
        print(USAGE, file=sys.stderr)
        return 2
    return check.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
