"""`python -m sorasim --host 127.0.0.1 --port 8765 [options]`; `--help` lists every option and its variable."""

import logging
import sys

from .config import parse_config


def masked(key):
    """A key as the start-up line shows it: its last four characters, as soraweb shows its keys (the log is read
    by more people than should hold the key)."""
    return f"••••{key[-4:]}"


class _QuietCutOffs(logging.Filter):
    """The cut-off faults end responses early on purpose; uvicorn would report each one as an error."""

    def filter(self, record):
        return "returned without completing response" not in record.getMessage()


def main(argv=None):
    config = parse_config(argv)  # before the heavy imports, so --help and bad options answer at once
    import uvicorn

    from .app import create_app

    logging.basicConfig(
        level=config.log_level.upper(), format="sorasim %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("uvicorn.error").addFilter(_QuietCutOffs())
    app = create_app(config)
    keys = ", ".join(map(masked, config.api_keys))
    print(
        f"sorasim: http://{config.host}:{config.port}/v1 (admin /_sim/), keys: {keys}, "
        f"media {config.media}, data {config.data_dir or 'in memory'}",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level=config.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=3,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
