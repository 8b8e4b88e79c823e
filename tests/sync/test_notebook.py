"""The sync client in a real Jupyter kernel (ipykernel, driven by nbclient): the kernel runs an
event loop in the cell's thread, and a cell is where a blocking call belongs."""

from __future__ import annotations

from typing import Any

import nbclient
import nbformat

from aikit_files.server import ServerThread

CELLS = [
    "import aikit_files as af, asyncio, warnings\n"
    "warnings.simplefilter('error')\n"
    "asyncio.get_running_loop()  # the kernel's loop runs in this thread",
    "client = af.Client(API_KEY, base_url=BASE_URL)\n"
    "made = client.files.create(b'{\"prompt\": \"hi\"}\\n', 'user_data', filename='notes.jsonl')\n"
    "print('made', made.filename, made.bytes)",
    "futures = [client.files.retrieve(made.id, on_terminate=lambda r: None) for _ in range(3)]\n"
    "print('retrieved', sum(f.result(timeout=30).id == made.id for f in futures))",
    "print('listed', [f.filename for f in client.files.iterate()])\n"
    "print('content', client.files.content(made.id))\n"
    "client.close()",
]


def test_the_sync_client_works_in_a_notebook_cell(local_server: ServerThread) -> None:
    setup = f"API_KEY = {local_server.api_key!r}\nBASE_URL = {local_server.openai_base_url!r}"
    v4: Any = nbformat.v4  # nbformat ships no annotations
    notebook = v4.new_notebook(cells=[v4.new_code_cell(source) for source in [setup, *CELLS]])
    nbclient.NotebookClient(notebook, timeout=60, kernel_name="python3").execute()
    outputs = [output for cell in notebook.cells for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    printed = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")
    assert printed.splitlines() == [
        "made notes.jsonl 17",
        "retrieved 3",
        "listed ['notes.jsonl']",
        'content b\'{"prompt": "hi"}\\n\'',
    ]
    # No warning either: in a notebook, blocking the cell is what a sync client is for.
    assert not [o for o in outputs if o.get("name") == "stderr"]
