"""The Data Rights Protocol endpoints (v0.9.4) for authorized agents, and the page where a person
confirms a request their agent filed with the code we e-mailed them."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, request
from flask_babel import gettext as _

from app.drp import services, signing
from app.drp.signing import Refusal
from app.extensions import limiter
from app.rights import workflow
from app.rights.models import RequestStatus
from app.security import agent, public
from app.timeutil import utcnow
from app.uow import keep_on_error

bp = Blueprint("drp", __name__, url_prefix="/v1")

MAX_MESSAGE = 64 * 1024
DRP_LIMIT = "120 per minute"


def _refused(refusal: Refusal):
    return jsonify(refusal.body()), refusal.status


def _signed_body() -> bytes:
    if (request.content_length or 0) > MAX_MESSAGE:
        raise Refusal(413, "The message is too large.")
    return request.get_data(cache=False)[:MAX_MESSAGE + 1]


@bp.post("/agent/<agent_id>")
@agent
@limiter.limit(DRP_LIMIT)
def pair_agent(agent_id: str):
    """Pair-wise key setup (2.05): a message signed by a registered agent gets a bearer token.
    Any failure is a bare 403, as the protocol says."""
    found = services.find_agent(agent_id)
    if found is None:
        return "", 403
    try:
        body = _signed_body()
        claims = signing.open_message(body, found)
        token = services.pair(found, claims, signing.message_hash(body), current_app.config, utcnow())
    except Refusal:
        return "", 403
    return jsonify({"agent-id": found.agent_id, "token": token})


@bp.get("/agent/<agent_id>")
@agent
def show_agent(agent_id: str):
    """Agent information (2.06): 200 with {} while the bearer token is this agent's."""
    found = services.agent_for_token(request.headers.get("Authorization"))
    if found is None or found.agent_id != agent_id:
        return jsonify({"code": "403", "message": "The token is not this agent's."}), 403
    return jsonify({})


@bp.post("/data-rights-request", strict_slashes=False)
@agent
@limiter.limit(DRP_LIMIT)
def file_request():
    """Data rights exercise (2.01): checked in the order of section 3.07, then filed."""
    found = services.agent_for_token(request.headers.get("Authorization"))
    if found is None:
        return jsonify({"code": "403", "message": "A valid bearer token from pairing is required."}), 403
    try:
        body = _signed_body()
        claims = signing.open_message(body, found)
        filed = services.exercise(found, claims, signing.message_hash(body), current_app.config, utcnow())
    except Refusal as refusal:
        return _refused(refusal)
    return jsonify(services.status(filed, current_app.config, utcnow()))


def _own_request(request_id: str):
    found = services.agent_for_token(request.headers.get("Authorization"))
    if found is None:
        raise Refusal(403, "A valid bearer token from pairing is required.")
    filed = services.find_request(request_id)
    if filed is None:
        raise Refusal(404, "No such request.")
    if filed.agent_pk != found.id:
        raise Refusal(403, "The request is another agent's.")
    return found, filed


@bp.get("/data-rights-request/<request_id>")
@agent
def show_request(request_id: str):
    """Data rights status (2.02), for the agent that filed it only."""
    try:
        _found, filed = _own_request(request_id)
    except Refusal as refusal:
        return _refused(refusal)
    return jsonify(services.status(filed, current_app.config, utcnow()))


@bp.delete("/data-rights-request/<request_id>")
@agent
def revoke_request(request_id: str):
    """Data rights revoke (2.04): a signed {"reason": ...} from the agent that filed it, with the
    claims of section 3.07 (agent, business, issued-at, expires-at) checked as for an exercise."""
    try:
        found, filed = _own_request(request_id)
        claims = signing.open_message(_signed_body(), found)
        services.revoke(filed, claims, current_app.config, utcnow())
    except (Refusal, workflow.TransitionRefused) as refused:
        if isinstance(refused, Refusal):
            return _refused(refused)
        return _refused(Refusal(409, str(refused)))
    return jsonify(services.status(filed, current_app.config, utcnow()))


@bp.route("/verify/<request_id>", methods=["GET", "POST"])
@public
@limiter.limit("20 per 10 minutes", methods=["POST"])
def verify_identity(request_id: str):
    """The person confirms the request their agent filed, with the code we e-mailed them; then
    back to the agent (only to the agent's own site). The ``request_id`` the agent attaches must
    name this same request (3.02), or no verification is presented and no code is taken."""
    filed = services.identity_request(request_id)
    if filed is None:
        return render_template("drp/verify.html", missing=True), 404
    named = request.values.get("request_id")
    if named is not None and named != filed.request_id:
        return render_template("drp/verify.html", mismatch=True), 400
    req, target = filed.rights_request, services.safe_redirect(filed, request.values.get("redirect_to"))
    if request.method == "POST" and req.status == RequestStatus.UNCONFIRMED:
        if workflow.check_code(req, (request.form.get("code") or "")[:20], utcnow()):
            return redirect(target, code=303) if target else render_template("drp/verify.html", filed=filed,
                                                                              done=True)
        keep_on_error()  # the attempt counts, with the 400 it answers
        return render_template("drp/verify.html", filed=filed, target=target, named=named,
                               error=_("That code is not right, or it has expired.")), 400
    return render_template("drp/verify.html", filed=filed, target=target, named=named,
                           done=req.status != RequestStatus.UNCONFIRMED)
