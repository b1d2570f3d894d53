"""The lab's web application: the page, its stream of frames, and its controls.

GET  /            the page (static/index.html); /static/... its script and style
GET  /events      server-sent events: ``scene`` (the problem, real samples, p_data, the
                  curves so far) on connecting and after each reset, then each frame
GET  /state       the current settings
POST /command     {"name": "play" | "pause" | "step_d" | "step_g" | "step" | "reset"}
POST /control     {"key": "generator.lr", "value": "1e-3"}: validated as gankit train's
                  KEY=VALUE; a bad value is answered 400 {"error": "..."}, one line
POST /speed       {"steps": 1 | 2 | 5 | 10 | 20 | 50, "slow": false}
POST /problem     {"name": "ring8"} or {"name": "drawn", "points": [[x, y], ...]}
POST /save        {"out": "runs/lab-ring8"}: a run folder of what was trained
GET  /replay      the kept frames as one self-contained HTML page, a step slider, no server
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import webbrowser
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gankit.errors import GankitError
from gankit.lab.replay import replay_html
from gankit.lab.session import Session, check_out

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
POLL_SECONDS = 0.005  # how often a stream looks for a new frame
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def create_app(session: Session) -> Starlette:
    """The Starlette application serving ``session`` (started and closed with the app)."""

    async def events(request: Request) -> StreamingResponse:
        async def stream() -> AsyncIterator[str]:
            scene_seen = frame_seen = -1
            while not session.closed:
                scene_version, frame_version, frame = session.latest()
                if scene_version != scene_seen:
                    yield f"event: scene\ndata: {await run_in_threadpool(session.scene_json)}\n\n"
                    scene_seen = scene_version
                if frame_version != frame_seen:
                    yield f"data: {frame}\n\n"
                    frame_seen = frame_version
                await asyncio.sleep(POLL_SECONDS)

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    async def page(request: Request) -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def state(request: Request) -> JSONResponse:
        return JSONResponse(await run_in_threadpool(session.state))

    def handler(
        action: Callable[[dict[str, Any]], Any],
    ) -> Callable[[Request], Awaitable[JSONResponse]]:
        """A POST route: its JSON body to ``action`` in a worker thread; bad input -> 400."""

        async def handle(request: Request) -> JSONResponse:
            try:
                body = json.loads(await request.body() or b"{}")
                if not isinstance(body, dict):
                    raise GankitError('send a JSON object, e.g. {"name": "play"}')
                result = await run_in_threadpool(action, body)
            except json.JSONDecodeError as error:
                return JSONResponse({"error": f"the body is not JSON ({error.msg})"}, 400)
            except GankitError as error:
                return JSONResponse({"error": str(error)}, 400)
            return JSONResponse({"ok": True, **(result or {})})

        return handle

    def save(body: dict[str, Any]) -> dict[str, Any]:
        directory = session.save(check_out(body.get("out")))
        return {"path": str(directory), "message": f"saved the run folder {directory}"}

    async def replay(request: Request) -> Response:
        scene, frames = await run_in_threadpool(session.replay_frames)
        if not frames:
            return JSONResponse({"error": "nothing trained yet: press play first"}, 400)
        html = replay_html(scene, frames)
        name = f"gankit-lab-{scene['problem']}.html"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(html, media_type="text/html", headers=headers)

    routes = [
        Route("/", page),
        Route("/events", events),
        Route("/state", state),
        Route("/command", handler(lambda b: session.command(b.get("name"))), methods=["POST"]),
        Route(
            "/control",
            handler(lambda b: session.set_control(str(b.get("key")), b.get("value"))),
            methods=["POST"],
        ),
        Route(
            "/speed",
            handler(lambda b: session.set_speed(b.get("steps"), b.get("slow", False))),
            methods=["POST"],
        ),
        Route(
            "/problem",
            handler(lambda b: session.set_problem(b.get("name"), b.get("points"))),
            methods=["POST"],
        ),
        Route("/save", handler(save), methods=["POST"]),
        Route("/replay", replay),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        session.start()
        try:
            yield
        finally:
            session.close()

    return Starlette(routes=routes, lifespan=lifespan)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port), or one line naming the port in use and the fix."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            raise GankitError(
                f"port {port} on {host} is in use; choose another with --port, e.g. "
                f"gankit lab --port {port + 1}"
            ) from None
        raise GankitError(
            f"cannot listen on {host}:{port} ({error.strerror}); check --host and --port"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = True) -> None:
    """Serve the lab at http://host:port until interrupted."""
    import uvicorn

    from gankit.threads import torch_threads

    sock = bind(host, port)
    port = sock.getsockname()[1]
    if host not in LOCAL_HOSTS:
        log.warning(
            "serving on %s: anyone who can reach this machine on port %d can drive the lab "
            "and save run folders here; use the default --host 127.0.0.1 unless you mean it",
            host,
            port,
        )
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    with torch_threads(1):  # a small MLP: one thread is fastest and leaves a core to the page
        session = Session()
        config = uvicorn.Config(
            create_app(session), log_level="warning", timeout_graceful_shutdown=1, lifespan="on"
        )
        server = uvicorn.Server(config)
        print(f"gankit lab: {url} (Ctrl-C stops it)", flush=True)
        if open_browser:
            threading.Timer(0.5, webbrowser.open, args=(url,)).start()
        server.run(sockets=[sock])
