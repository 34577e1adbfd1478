#!/usr/bin/env python
"""Django's command-line utility for moxweb."""
from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moxweb.settings")
    from django.core.management import execute_from_command_line

    if sys.argv[1:] == ["version"]:
        # Django answers a bare "version" itself with Django's version; ours names moxweb's.
        import django
        from django.core.management import call_command

        django.setup()
        call_command("version")
        return
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
