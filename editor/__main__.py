"""`python -m editor <command>`: the editors' tools."""

import sys

from editor import check

COMMANDS = {
    "check": (check.main, "Check editor content (explainer sections, reading ease, links, overrides.toml)"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in COMMANDS:
        print("usage: python -m editor <command> [options]\n\ncommands:")
        for name, (_run, doc) in COMMANDS.items():
            print(f"  {name:<10} {doc}")
        return 0 if argv and argv[0] in {"-h", "--help"} else 2
    return COMMANDS[argv[0]][0](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
