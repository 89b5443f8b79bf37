"""Human evaluation on the ondo server: a minimal blind-voting page and its JSON API.

The page is server-rendered HTML (no build step, no script needed): ``/human`` lists the queues,
``/human/{queue}?annotator=NAME`` shows the next item blind (sides shuffled per annotator, no model
names), and posting a vote stores it and only then reveals which model was on which side. The JSON
API under ``/api/human`` does the same for other front ends. Both call ``ondo.evals.human`` only.
"""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ondo.errors import Conflict, InvalidInput, NotFound, OndoError
from ondo.evals import human
from ondo.workspace import Workspace

router = APIRouter(tags=["human evaluation"])

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:1.5rem auto;padding:0 1rem;color:#222}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1rem}.box{border:1px solid #ccc;border-radius:6px;padding:.8rem;
white-space:pre-wrap;overflow-wrap:anywhere}.prompt{background:#f6f6f6}.buttons{margin:1rem 0;display:flex;gap:.6rem}
button{font-size:1rem;padding:.5rem 1rem;cursor:pointer}.muted{color:#777}.error{color:#a00}
"""


def _ws(request: Request) -> Workspace:
    ws = getattr(request.app.state, "workspace", None)
    return ws if isinstance(ws, Workspace) else Workspace.default()


def _status(exc: OndoError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, InvalidInput):
        return 400
    return 400


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    doc = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
           f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{_STYLE}</style></head>"
           f"<body><h1>{html.escape(title)}</h1>{body}</body></html>")
    return HTMLResponse(doc, status_code=status)


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text))


async def _form(request: Request) -> dict[str, str]:
    """Parse an urlencoded form without python-multipart."""
    raw = (await request.body()).decode("utf-8", "replace")
    return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}


# ---- HTML ---------------------------------------------------------------------------------------


@router.get("/human", response_class=HTMLResponse, include_in_schema=False)
def queues_page(request: Request) -> HTMLResponse:
    rows = "".join(
        f"<li><a href='/human/{quote(q.name)}'>{_e(q.name)}</a> <span class='muted'>{_e(q.kind)}, "
        f"{q.items} items, {q.votes} votes</span></li>" for q in human.list_queues(_ws(request)))
    return _page("Annotation queues", f"<ul>{rows}</ul>" if rows else "<p class='muted'>No queues yet.</p>")


@router.get("/human/{queue}", response_class=HTMLResponse, include_in_schema=False)
def vote_page(request: Request, queue: str, annotator: str | None = None) -> HTMLResponse:
    ws = _ws(request)
    try:
        q = human.get_queue(ws, queue)
        if not annotator:
            return _page(f"Queue {q.name}", (
                f"<form method='get' action='/human/{quote(q.name)}'><label>Your name "
                "<input name='annotator' id='annotator' required></label> <button type='submit'>Start</button></form>"))
        item = human.next_item(ws, q.name, annotator)
    except OndoError as exc:
        return _page("Error", f"<p class='error'>{_e(exc.message)}</p>", _status(exc))
    if item is None:
        return _page(f"Queue {q.name}", f"<p id='done'>All done, {_e(annotator)}: no items left to judge.</p>")
    hidden = (f"<input type='hidden' name='item_id' value='{_e(item.item_id)}'>"
              f"<input type='hidden' name='annotator' value='{_e(annotator)}'>")
    head = (f"<p class='muted'>Annotator {_e(annotator)} &middot; {item.remaining} left</p>"
            f"<h2>Prompt</h2><div class='box prompt' id='prompt'>{_e(item.prompt)}</div>")
    action = f"/human/{quote(q.name)}/vote"
    if item.kind == "pairwise":
        body = (f"{head}<div class='pair'><div><h2>Response 1</h2><div class='box' id='left'>{_e(item.left)}</div></div>"
                f"<div><h2>Response 2</h2><div class='box' id='right'>{_e(item.right)}</div></div></div>"
                f"<form method='post' action='{action}'>{hidden}<div class='buttons'>"
                "<button name='side' value='left' id='vote-left'>Response 1 is better</button>"
                "<button name='side' value='right' id='vote-right'>Response 2 is better</button>"
                "<button name='side' value='tie' id='vote-tie'>Tie</button>"
                "<button name='side' value='bothbad' id='vote-bothbad'>Both are bad</button></div>"
                "<label>Comment <input name='comment' id='comment' size='60'></label></form>")
    else:
        body = (f"{head}<h2>Response</h2><div class='box' id='left'>{_e(item.left)}</div>"
                f"<h2>Rubric</h2><p id='rubric'>{_e(item.rubric)}</p>"
                f"<form method='post' action='{action}'>{hidden}<label>Rating (1-10) "
                "<input type='number' name='rating' id='rating' min='1' max='10' step='1' required></label> "
                "<label>Comment <input name='comment' id='comment' size='40'></label> "
                "<button type='submit' id='vote-rate'>Submit</button></form>")
    return _page(f"Queue {q.name}", body)


@router.post("/human/{queue}/vote", response_class=HTMLResponse, include_in_schema=False)
async def vote_form(request: Request, queue: str) -> Response:
    form = await _form(request)
    ws = _ws(request)
    annotator = form.get("annotator", "")
    try:
        rating = float(form["rating"]) if form.get("rating") else None
        result = human.cast_vote(ws, form.get("item_id", ""), annotator, side=form.get("side") or None,
                                 rating=rating, comment=form.get("comment") or None)
    except ValueError:
        return _page("Error", "<p class='error'>rating must be a number</p>", 400)
    except OndoError as exc:
        return _page("Error", f"<p class='error'>{_e(exc.message)}</p>", _status(exc))
    next_url = f"/human/{quote(queue)}?annotator={quote(annotator)}"
    if result.rating is not None:
        body = (f"<p id='stored'>Stored: rating {result.rating:g} by {_e(annotator)}.</p>"
                f"<p>The response came from <b id='reveal-left'>{_e(result.left_model or 'unknown')}</b>.</p>")
    else:
        chosen = {"left": "Response 1", "right": "Response 2", "tie": "a tie", "bothbad": "both bad"}.get(
            form.get("side", ""), str(result.choice))
        body = (f"<p id='stored'>Stored: {_e(annotator)} chose {_e(chosen)}.</p>"
                f"<p>Response 1 was <b id='reveal-left'>{_e(result.left_model or 'unknown')}</b>; "
                f"Response 2 was <b id='reveal-right'>{_e(result.right_model or 'unknown')}</b>.</p>")
    return _page(f"Queue {queue}", body + f"<p><a id='next' href='{_e(next_url)}'>Next item</a></p>")


@router.get("/human/{queue}/", include_in_schema=False)
def vote_page_slash(queue: str) -> RedirectResponse:
    return RedirectResponse(f"/human/{quote(queue)}")


# ---- JSON API -----------------------------------------------------------------------------------


def _json_error(exc: OndoError) -> JSONResponse:
    return JSONResponse({"error": {"message": exc.message, "type": type(exc).__name__}}, status_code=_status(exc))


@router.get("/api/human/queues")
def api_queues(request: Request) -> list[dict[str, Any]]:
    return [q.to_dict() for q in human.list_queues(_ws(request))]


@router.get("/api/human/queues/{queue}", response_model=None)
def api_queue(request: Request, queue: str) -> Any:
    try:
        return human.get_queue(_ws(request), queue).to_dict()
    except OndoError as exc:
        return _json_error(exc)


@router.get("/api/human/queues/{queue}/next", response_model=None)
def api_next(request: Request, queue: str, annotator: str) -> Any:
    """The next item for ``annotator``, blind (null when the queue is done)."""
    try:
        item = human.next_item(_ws(request), queue, annotator)
    except OndoError as exc:
        return _json_error(exc)
    return item.to_dict() if item is not None else None


@router.post("/api/human/items/{item_id}/vote", response_model=None)
async def api_vote(request: Request, item_id: str) -> Any:
    """Body: {"annotator", "side": left|right|tie|bothbad} or {"annotator", "rating"}; optional "comment".
    Returns the stored vote with the model names revealed."""
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return _json_error(InvalidInput("the request body is not valid JSON"))
    if not isinstance(body, dict):
        return _json_error(InvalidInput("the request body must be a JSON object"))
    try:
        rating = body.get("rating")
        result = human.cast_vote(_ws(request), item_id, str(body.get("annotator", "")), side=body.get("side"),
                                 choice=body.get("choice"), rating=float(rating) if rating is not None else None,
                                 comment=body.get("comment"))
    except (TypeError, ValueError):
        return _json_error(InvalidInput("rating must be a number", field="rating"))
    except OndoError as exc:
        return _json_error(exc)
    return result.to_dict()


@router.get("/api/human/queues/{queue}/export", response_model=None)
def api_export(request: Request, queue: str) -> Any:
    try:
        return human.export(_ws(request), queue)
    except OndoError as exc:
        return _json_error(exc)


@router.get("/api/human/queues/{queue}/agreement", response_model=None)
def api_agreement(request: Request, queue: str, judge: str | None = None) -> Any:
    try:
        return human.agreement(_ws(request), queue, judge)
    except OndoError as exc:
        return _json_error(exc)
