"""``aikit-files demo``: the whole job against a local server it starts itself, one line a step,
leaving nothing behind."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import hashlib
import http.server
import json
import pathlib
import random
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator

import aikit_files as af

from ._output import Output
from ._units import short_size

MiB = 1024 * 1024
#: The file the demo sends through the Uploads API, and how: small sizes keep the demo quick
#: (by default only files over 512 MiB go that way, in Parts of 64 MiB).
LARGE_FILE = 24 * MiB
DEMO_THRESHOLD = 8 * MiB
DEMO_PART = 4 * MiB
STEPS = 10

_SYSTEM = (
    "You are Ada, the support assistant of Northwind Outfitters. Be brief, warm and precise.",
    "You are a helpful assistant for Northwind Outfitters' online store. Answer in plain words.",
    "You answer customers of Northwind Outfitters. Never invent an order status.",
)
_PRODUCTS = (
    "the Trailblazer 40L backpack",
    "the Summit down jacket",
    "the Ridgeline trekking poles",
    "the Basecamp 2-person tent",
    "the Alpine merino base layer",
    "the Canyon hydration bladder",
    "the Tundra sleeping bag",
)
_ASKS = (
    (
        "Hi, my order {order} with {product} hasn't arrived yet. It's been {days} days.",
        "I'm sorry about the wait. Order {order} left our warehouse {days_out} days ago; "
        "the carrier shows it due within {eta} business days. I've added a note to "
        "prioritise it, and you'll get an email the moment it's out for delivery.",
    ),
    (
        "Can I return {product}? I used it once and it doesn't fit well.",
        "Yes. {product_cap} can be returned within 60 days, even if used gently. Start the "
        "return from your account page under order {order}; the label is free and your refund "
        "arrives {eta} to 5 days after we receive it.",
    ),
    (
        "Is {product} waterproof enough for a week of rain in Scotland?",
        "{product_cap} is rated for sustained rain, with taped seams and a {rating} mm "
        "hydrostatic head. For a full week of rain, pair it with a pack cover and reproof "
        "it after about {days} washes.",
    ),
    (
        "What's the difference between {product} and the older model?",
        "The new {short} is about {saving} g lighter, uses recycled fabric throughout, and "
        "moves the side pockets so you can reach them with the hip belt on. Sizing is unchanged.",
    ),
    (
        "I was charged twice for order {order}. Please help!",
        "Thanks for telling us. I can see two authorisations for order {order}, but only one "
        "was captured; the other drops off your statement within {eta} business days. Nothing "
        "more is needed from you.",
    ),
)


def _examples(seed: int) -> Iterator[bytes]:
    """Chat-format fine-tune examples, one JSON line each, varied but reproducible."""
    rng = random.Random(seed)
    while True:
        product = rng.choice(_PRODUCTS)
        ask, answer = rng.choice(_ASKS)
        slots = {
            "product": product,
            "product_cap": product[0].upper() + product[1:],
            "short": product.removeprefix("the "),
            "order": f"NW-{rng.randrange(100000, 999999)}",
            "days": rng.randrange(3, 15),
            "days_out": rng.randrange(1, 4),
            "eta": rng.randrange(2, 5),
            "rating": rng.choice((10000, 15000, 20000)),
            "saving": rng.randrange(80, 400, 10),
        }
        messages = [
            {"role": "system", "content": rng.choice(_SYSTEM)},
            {"role": "user", "content": ask.format(**slots)},
            {"role": "assistant", "content": answer.format(**slots)},
        ]
        yield json.dumps({"messages": messages}, ensure_ascii=False).encode() + b"\n"


def write_jsonl(path: pathlib.Path, size_bytes: int, *, seed: int) -> tuple[int, str]:
    """Writes examples to ``path``: whole lines, as many as fit in ``size_bytes`` (at least one).

    Returns:
        The number of examples and the file's SHA-256 (hex).
    """
    digest = hashlib.sha256()
    count = written = 0
    with path.open("wb") as handle:
        batch: list[bytes] = []
        for line in _examples(seed):
            full = count > 0 and written + len(line) > size_bytes
            if not full:
                batch.append(line)
                count += 1
                written += len(line)
            if full or len(batch) == 4096:
                chunk = b"".join(batch)
                handle.write(chunk)
                digest.update(chunk)
                batch.clear()
            if full:
                break
    return count, digest.hexdigest()


def sha256(path: pathlib.Path) -> str:
    """The SHA-256 of the file at ``path`` (hex)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    """Serves a directory's files, without a log line a request."""

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serving_directory(directory: pathlib.Path) -> Iterator[str]:
    """A plain HTTP server on loopback serving ``directory``; yields its root URL."""
    handler = functools.partial(_QuietFiles, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="aikit-files-demo-http")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


class _Narrator:
    """Prints the demo's lines: one a step, numbered."""

    def __init__(self) -> None:
        self.step = 0

    def __call__(self, text: str) -> None:
        self.step += 1
        print(f"[{self.step}/{STEPS}] {text}", flush=True)


def demo(args: argparse.Namespace) -> int:
    """Runs the demo; exit status 0 when every step went as it should."""
    from aikit_files.server import ServerThread

    started = time.monotonic()
    out = Output("text")
    key = f"sk-demo-{secrets.token_hex(8)}"
    with tempfile.TemporaryDirectory(prefix="aikit-files-demo-") as temporary:
        work = pathlib.Path(temporary)
        with ServerThread(work / "data", api_key=key, allow_private_import=True) as server:
            print(
                f"aikit-files demo: a local Files API server at {server.url}, its files in a "
                "temporary directory",
                flush=True,
            )
            asyncio.run(_tour(work, server.openai_base_url, server.azure_endpoint, key, args, out))
        print("aikit-files demo: stopped the server", flush=True)
    left = "nothing left behind" if not work.exists() else f"{work} is still there"
    print(f"aikit-files demo: done in {time.monotonic() - started:.1f} s; {left}", flush=True)
    return 0 if not work.exists() else 1


async def _tour(
    work: pathlib.Path,
    base_url: str,
    azure_endpoint: str,
    key: str,
    args: argparse.Namespace,
    out: Output,
) -> None:
    say = _Narrator()
    async with af.AsyncClient(key, base_url=base_url) as client:
        # 1. A fine-tune file.
        train = work / "train.jsonl"
        count, digest = await asyncio.to_thread(write_jsonl, train, int(args.size_mb * MiB), seed=1)
        bytes_ = train.stat().st_size
        say(
            f"generated {train.name}: {count:,} chat examples, {short_size(bytes_)}, "
            f"SHA-256 {digest[:16]}..."
        )

        # 2. Its upload.
        began = time.monotonic()
        with out.transfers(transient=True) as board:
            bar = board.add(train.name, bytes_)
            file = await client.files.create(train, "fine-tune", on_progress=bar.update)
        took = time.monotonic() - began
        say(
            f"uploaded {train.name} as {file.id} in {took:.1f} s "
            f"({short_size(int(bytes_ / max(took, 1e-6)))}/s), status {file.status}"
        )

        # 3. The list, and the file's metadata.
        page = await client.files.list(purpose="fine-tune")
        retrieved = await client.files.retrieve(file.id)
        if [f.id for f in page.data] != [file.id] or retrieved != file:
            raise RuntimeError(f"the server lists {page.data} and retrieves {retrieved}")
        say(
            f"listed the fine-tune files ({len(page.data)}: {page.data[0].filename}) and "
            f"retrieved {retrieved.id}: {retrieved.bytes:,} bytes, {retrieved.purpose}, "
            f"{retrieved.status}"
        )

        # 4. Its download, checked.
        copy = work / "downloaded.jsonl"
        with out.transfers(transient=True) as board:
            bar = board.add(copy.name, None)
            await client.files.download(file.id, copy, on_progress=bar.update)
        copied = await asyncio.to_thread(sha256, copy)
        if copied != digest:
            raise RuntimeError(f"the download's SHA-256 {copied} is not the upload's {digest}")
        say(f"downloaded {file.id} to {copy.name}: SHA-256 matches ({copied[:16]}...)")

        # 5. A file through the Uploads API.
        large = work / "large.jsonl"
        await asyncio.to_thread(write_jsonl, large, LARGE_FILE, seed=2)
        large_bytes = large.stat().st_size
        parts = -(-large_bytes // DEMO_PART)
        with out.transfers(transient=True) as board:
            bar = board.add(large.name, large_bytes)
            big = await client.files.create(
                large,
                "fine-tune",
                upload_threshold=DEMO_THRESHOLD,
                part_size=DEMO_PART,
                max_concurrency=4,
                on_progress=bar.update,
            )
        say(
            f"uploaded {large.name} ({short_size(large_bytes)}) through the Uploads API in {parts} "
            f"Parts of {short_size(DEMO_PART)}, 4 at once, as {big.id} (the demo lowers the threshold "
            f"to {short_size(DEMO_THRESHOLD)}; by default files over 512 MiB go this way, in Parts of "
            "64 MiB)"
        )

        # 6. Fire and forget: the callback has the result.
        notes = work / "notes.txt"
        notes.write_text("Fire and forget: nobody awaits this upload.\n")
        finished = asyncio.Event()

        def on_terminate(result: af.Result) -> None:
            made = result.file.id if isinstance(result, af.FileResult) and result.file else None
            print(f"      on_terminate: success={result.success}, file={made}", flush=True)
            finished.set()

        client.files.create(notes, "assistants", on_terminate=on_terminate)
        say("started a fire-and-forget upload of notes.txt (create's task is not awaited) ...")
        await finished.wait()

        # 7. The sync client.
        note = work / "sync.txt"
        note.write_text("Uploaded by the sync client.\n")
        synced = await asyncio.to_thread(_sync_upload, key, base_url, note)
        say(f"the sync client (af.Client) uploaded {note.name} as {synced.id} in a plain call")

        # 8. Azure's files/import, from a second local HTTP server.
        public = work / "public"
        public.mkdir()
        write_jsonl(public / "import.jsonl", 64 * 1024, seed=3)
        with serving_directory(public) as root:
            url = f"{root}/import.jsonl"
            async with af.AsyncClient(key, provider="azure", base_url=azure_endpoint) as azure:
                began = time.monotonic()
                imported = await azure.files.import_url(url, "import.jsonl", "fine-tune")
                done = await azure.files.wait_for_processing(imported.id, poll_interval=0.2)
        say(
            f"Azure files/import fetched {url} as {done.id}: {imported.status} -> "
            f"{done.status} in {time.monotonic() - began:.1f} s (wait_for_processing)"
        )

        # 9. Everything deleted.
        ids = [f.id async for f in client.files.iterate()]
        await asyncio.gather(*(client.files.delete(file_id) for file_id in ids))
        left = await client.files.list()
        if left.data:
            raise RuntimeError(f"files are left after the deletes: {[f.id for f in left.data]}")
        say(f"deleted the {len(ids)} files; the server lists none")
    say("closed the clients (every call and callback had finished)")


def _sync_upload(key: str, base_url: str, path: pathlib.Path) -> af.OpenAIFile:
    with af.Client(key, base_url=base_url) as client:
        return client.files.create(path, "assistants")
