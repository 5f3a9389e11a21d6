"""`python -m harvest <command>`: each command lives in the module named for its pipeline stage."""

import importlib
import sys

COMMANDS = {
    "run": ("harvest.pipeline", "Live harvest (incremental; --full refetches)"),
    "replay": ("harvest.replay", "Rebuild every card from a raw-response cache, offline"),
    "seed": ("harvest.seed", "Copy recorded responses with on-topic records into the raw cache"),
    "normalize": ("harvest.normalize", "Print normalized records (JSON lines) for raw files"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in COMMANDS:
        print("usage: python -m harvest <command> [options]\n\ncommands:")
        for name, (_mod, doc) in COMMANDS.items():
            print(f"  {name:<10} {doc}")
        return 0 if argv and argv[0] in {"-h", "--help"} else 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
