"""Where the independent clients are, or a failure at once that says what to install.

``make test`` installs them (``scripts/test-tools.sh``). Call these first in a test, before
any server or event loop starts: ``pytest.fail`` raises a ``BaseException``, and raised inside
a running asyncio loop it escapes the loop while the servers' tasks are still alive, which
used to hang a test for the whole suite timeout instead of failing in a second.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parent / "node"
"""The node-opcua client's folder (``package.json``, lock file and ``ua_client.mjs``)."""

INSTALL = "run `make test` (it installs the test clients) or `bash scripts/test-tools.sh`"


def node_opcua() -> str:
    """The ``node`` executable, with node-opcua-client installed beside the client script."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"Node.js >= 18 is required for the OPC UA interop tests: {INSTALL}, "
                    "or install nodejs and npm")
    if not (NODE_DIR / "node_modules" / "node-opcua-client").is_dir():
        pytest.fail(f"node-opcua-client is not installed in {NODE_DIR}: {INSTALL}, "
                    f"or run `npm ci` there")
    return node


def mbpoll() -> str:
    """The ``mbpoll`` executable (Debian's command-line Modbus master)."""
    found = shutil.which("mbpoll")
    if found is None:
        pytest.fail(f"mbpoll is required for the Modbus interop tests: {INSTALL}, "
                    "or `apt-get install mbpoll`")
    return found
