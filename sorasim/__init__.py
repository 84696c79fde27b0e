"""sorasim: a local simulator of the Sora-2 `/v1/videos` API, faithful enough for the official `openai` SDK.

Standalone on purpose: it imports nothing of soraweb and no Django. Run it with `python -m sorasim --help`;
the admin API and every option are described in sorasim/README.md.
"""

__version__ = "1.0.0"
