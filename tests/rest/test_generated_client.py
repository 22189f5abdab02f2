"""Issue 11 item 5: a client generated from the example store's OpenAPI document calls it.

openapi-python-client runs offline on the served document; the generated package then
creates a product and reads it back from a live example store.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.rest.servers import example_database, migrate, run_server

pytestmark = pytest.mark.slow


def test_generated_client_creates_and_reads_a_product(tmp_path, monkeypatch):
    cli = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
    if cli is None:
        pytest.skip("openapi-python-client is not installed (pip install -e '.[dev]')")
    with example_database() as url:
        migrate(url)
        with run_server("gunicorn", url) as server:
            with urllib.request.urlopen(f"{server.base}/openapi.json", timeout=30) as reply:
                document = json.load(reply)
            spec = tmp_path / "openapi.json"
            spec.write_text(json.dumps(document))
            generated = subprocess.run(
                [cli, "generate", "--path", str(spec), "--output-path", str(tmp_path / "client")],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert generated.returncode == 0, generated.stdout + generated.stderr
            package = next(p for p in (tmp_path / "client").iterdir() if (p / "client.py").exists())
            monkeypatch.syspath_prepend(str(tmp_path / "client"))
            root = importlib.import_module(package.name)
            client = root.Client(base_url=server.base.removesuffix("/api"))
            create = importlib.import_module(f"{package.name}.api.products.product_create")
            get = importlib.import_module(f"{package.name}.api.products.product_get")
            models = importlib.import_module(f"{package.name}.models")
            body = models.ProductCreateInputRequest(
                sku="GEN-1", name="Generated", category="tools", price_cents=500, stock=3
            )
            created = create.sync_detailed(client=client, body=body)
            assert created.status_code == 201, created.content
            product_id = json.loads(created.content)["id"]
            fetched = get.sync(id=product_id, client=client)
            assert fetched.sku == "GEN-1"
            assert fetched.price_cents == 500
            listing = importlib.import_module(f"{package.name}.api.products.product_list")
            page = listing.sync(client=client)
            assert [item.sku for item in page.items] == ["GEN-1"]
