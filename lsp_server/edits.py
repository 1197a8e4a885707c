"""Edit-selection commands -> WorkspaceEdit: stipple.regenerate, stipple.repair, stipple.rewrite.

Each takes one argument {uri, range[, instruction][, alternative][, strict]} (workspace/executeCommand) and
applies its result with workspace/applyEdit as one undoable edit; the same actions are offered as
code actions of kind refactor.rewrite on a selection, resolved lazily (the model runs only for the
action the user picks). The model work (engine/edits/: repair.py, regenerate.py) runs on the bridge's
worker thread with cancel-previous per document; a result for a document that changed meanwhile is dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from lsprotocol import types

log = logging.getLogger("stipple.edits")

REGENERATE, REPAIR, REWRITE = "stipple.regenerate", "stipple.repair", "stipple.rewrite"
COMMANDS = (REGENERATE, REPAIR, REWRITE)
TITLES = {REGENERATE: "Regenerate selection", REPAIR: "Repair selection", REWRITE: "Rewrite selection"}
LINE_COMMENT = {"python": "#"}  # every other supported language (JS/TS, Rust, Go) uses //
ANNOTATION = "stipple"
CHARS_PER_TOKEN = 12  # generous: engine/edits/repair.py cuts the context by tokens afterwards
ALTERNATIVES = 3  # regenerate: this many fills, from different lengths and seeds


class EditError(Exception):
    """A request the server can explain to the user (bad argument, no model, selection too large)."""


@dataclass
class EditArgs:
    """The command's one argument, checked."""

    uri: str
    """The document."""
    range: types.Range
    """The selection, in the negotiated position encoding."""
    instruction: str | None = None
    """What to change (stipple.rewrite only)."""
    alternative: int = 0
    """Which regenerate alternative to apply (0: the first)."""
    strict: bool = True
    """stipple.repair: keep a fill only if the model scores it above the code it replaces (False: keep
    the fill of the least likely run regardless, for a model too weak to be sure of anything)."""


@dataclass
class Selection:
    """The selection resolved in the document, with the context the model sees."""

    doc: object
    version: int
    start: int
    end: int
    prefix: str
    text: str
    suffix: str
    frozen: list[tuple[int, int]]
    """Strings and comments, in selection offsets: repair leaves prose alone."""


def parse_args(command: str, args: tuple) -> EditArgs:
    def position(value: object, name: str) -> types.Position:
        if not isinstance(value, dict) or not all(isinstance(value.get(k), int) and value[k] >= 0
                                                  for k in ("line", "character")):
            raise EditError(f"{command}: range.{name} must be {{line, character}} with integers >= 0")
        return types.Position(value["line"], value["character"])

    if len(args) != 1 or not isinstance(args[0], dict):
        raise EditError(f"{command} takes one argument {{uri, range[, instruction]}}, got {len(args)}")
    arg = args[0]
    if not isinstance(arg.get("uri"), str) or not isinstance(arg.get("range"), dict):
        raise EditError(f"{command}: the argument needs a string 'uri' and a 'range'")
    start, end = position(arg["range"].get("start"), "start"), position(arg["range"].get("end"), "end")
    instruction = arg.get("instruction")
    if command == REWRITE and (not isinstance(instruction, str) or not instruction.strip()):
        raise EditError(f"{command} needs an 'instruction' (what should change)")
    alternative = arg.get("alternative", 0)
    if not isinstance(alternative, int) or not 0 <= alternative < ALTERNATIVES:
        raise EditError(f"{command}: 'alternative' must be an integer in [0, {ALTERNATIVES})")
    strict = arg.get("strict", True)
    if not isinstance(strict, bool):
        raise EditError(f"{command}: 'strict' must be true or false")
    if (end.line, end.character) < (start.line, start.character):
        start, end = end, start
    return EditArgs(arg["uri"], types.Range(start, end), instruction, alternative, strict)


def select(ls, args: EditArgs) -> Selection:
    doc = ls.documents.get(args.uri)
    if doc is None:
        raise EditError(f"{args.uri} is not open")
    if not ls.bridge.ready:
        raise EditError("the model is not loaded" + (f": {ls.bridge.error}" if ls.bridge.error else " yet"))
    start = doc.offset_at(args.range.start.line, args.range.start.character)
    end = doc.offset_at(args.range.end.line, args.range.end.character)
    if not doc.text[start:end].strip():
        raise EditError("select the code to change first")
    before = ls.settings.max_prefix_tokens * CHARS_PER_TOKEN
    after = ls.settings.max_suffix_tokens * CHARS_PER_TOKEN
    return Selection(doc, doc.version, start, end, doc.text[max(0, start - before) : start], doc.text[start:end],
                     doc.text[end : end + after], prose_ranges(doc, start, end))


def prose_ranges(doc, start: int, end: int) -> list[tuple[int, int]]:
    """Character ranges (relative to start) of the syntax tree's string and comment nodes in [start, end)."""
    if doc.tree is None or doc.language is None:
        return []
    data = doc.text.encode("utf-8")
    lo, hi = doc.byte_offset(start), doc.byte_offset(end)
    found, stack = [], [doc.tree.root_node]
    while stack:
        node = stack.pop()
        if node.end_byte <= lo or node.start_byte >= hi:
            continue
        if node.type in doc.language.no_complete:
            a, b = (len(data[:x].decode("utf-8", "ignore")) for x in (node.start_byte, node.end_byte))
            found.append((max(a, start) - start, min(b, end) - start))
            continue
        stack.extend(node.children)
    return sorted(found)


def model_work(command: str, sel: Selection, args: EditArgs, steps: int, comment: str):
    """The job for the worker thread: (engine, stop) -> alternatives, each a list of engine Edits."""

    def work(engine, stop) -> list[list] | None:
        from engine.denoise.engine import Cancelled
        from engine.edits.regenerate import regenerate, with_instruction
        from engine.edits.repair import RepairParams, SelectionTooLarge, minimal_edit, repair

        try:
            if command == REPAIR:
                params = RepairParams(verify=args.strict, max_runs=RepairParams.max_runs if args.strict else 1)
                result = repair(engine, sel.prefix, sel.text, sel.suffix, params, sel.frozen, should_stop=stop.is_set)
                return [result.edits] if result.edits else []
            prefix, count = sel.prefix, ALTERNATIVES
            if command == REWRITE:
                prefix, count = with_instruction(prefix, sel.text, args.instruction or "", comment), 1
            texts = regenerate(engine, prefix, sel.text, sel.suffix, steps, count, should_stop=stop.is_set)
            return [[edit] for text in texts if (edit := minimal_edit(sel.text, text, 0)) is not None]
        except SelectionTooLarge as exc:
            raise EditError(str(exc)) from exc
        except Cancelled:
            return None

    return work


async def propose(ls, command: str, args: EditArgs) -> tuple[Selection, list[list]]:
    """Run the model for one command; the selection and its alternatives (possibly none)."""
    sel = select(ls, args)
    comment = LINE_COMMENT.get(getattr(sel.doc.language, "name", ""), "//")
    alternatives = await ls.bridge.run_job(f"{args.uri}#edit", model_work(command, sel, args, ls.settings.steps,
                                                                          comment))
    if alternatives is None:
        raise EditError(f"{TITLES[command]} was cancelled")
    if ls.documents.get(args.uri) is not sel.doc or sel.doc.version != sel.version:
        raise EditError("the document changed while the model ran; run the command again")
    return sel, alternatives


def workspace_edit(ls, sel: Selection, edits: list, label: str) -> types.WorkspaceEdit:
    """One WorkspaceEdit; with change annotations (needing confirmation) where the client has them."""
    doc = sel.doc
    ranges = [types.Range(types.Position(*doc.position_at(sel.start + e.start)),
                          types.Position(*doc.position_at(sel.start + e.end))) for e in edits]
    caps = getattr(getattr(ls.client_capabilities, "workspace", None), "workspace_edit", None)
    if getattr(caps, "document_changes", False) and getattr(caps, "change_annotation_support", None) is not None:
        annotated = [types.AnnotatedTextEdit(range=r, new_text=e.text, annotation_id=ANNOTATION)
                     for r, e in zip(ranges, edits)]
        identifier = types.OptionalVersionedTextDocumentIdentifier(uri=doc.uri, version=sel.version)
        return types.WorkspaceEdit(
            document_changes=[types.TextDocumentEdit(text_document=identifier, edits=annotated)],
            change_annotations={ANNOTATION: types.ChangeAnnotation(label=label, needs_confirmation=True,
                                                                   description="written by the stipple model")})
    return types.WorkspaceEdit(changes={doc.uri: [types.TextEdit(r, e.text) for r, e in zip(ranges, edits)]})


async def execute(ls, command: str, raw_args: tuple) -> dict:
    """A command: compute, apply with workspace/applyEdit, and say what happened (never raises)."""
    from engine.edits.repair import apply_edits  # loaded with the model already

    try:
        args = parse_args(command, raw_args)
        sel, alternatives = await propose(ls, command, args)
        if not alternatives:
            return note(ls, "the model found nothing to change", types.MessageType.Info)
        chosen = alternatives[min(args.alternative, len(alternatives) - 1)]
        label = f"stipple: {TITLES[command].lower()}"
        response = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(
            edit=workspace_edit(ls, sel, chosen, label), label=label))
        log.info("%s %s: %d edit(s), applied=%s", command, args.uri, len(chosen), response.applied)
        return {"applied": bool(response.applied), "edits": len(chosen), "text": apply_edits(sel.text, chosen),
                "alternatives": [apply_edits(sel.text, a) for a in alternatives],
                "message": response.failure_reason}
    except EditError as exc:
        return note(ls, str(exc), types.MessageType.Warning)
    except ValueError as exc:  # a position the document cannot have
        return note(ls, f"{TITLES[command]}: {exc}", types.MessageType.Warning)
    except Exception as exc:
        log.exception("%s failed", command)
        return note(ls, f"{TITLES[command]} failed: {exc}", types.MessageType.Error)


def note(ls, message: str, kind: types.MessageType) -> dict:
    ls.show(kind, f"stipple: {message}")
    return {"applied": False, "edits": 0, "message": message}


def code_actions(ls, params: types.CodeActionParams) -> list[types.CodeAction]:
    """Repair and regenerate on a non-empty selection; the model runs at resolve (or command) time."""
    only = params.context.only
    if only and not any(types.CodeActionKind.RefactorRewrite.value.startswith(str(getattr(k, "value", k)))
                        for k in only):
        return []
    doc, r = ls.documents.get(params.text_document.uri), params.range
    if doc is None or not ls.bridge.ready or (r.start.line, r.start.character) == (r.end.line, r.end.character):
        return []
    caps = getattr(getattr(ls.client_capabilities, "text_document", None), "code_action", None)
    lazy = "edit" in (getattr(getattr(caps, "resolve_support", None), "properties", None) or [])
    actions = []
    for command, alternative, title in ((REPAIR, 0, TITLES[REPAIR]), (REGENERATE, 0, TITLES[REGENERATE]),
                                        (REGENERATE, 1, f"{TITLES[REGENERATE]} (another alternative)")):
        argument = {"uri": doc.uri, "range": {"start": {"line": r.start.line, "character": r.start.character},
                                              "end": {"line": r.end.line, "character": r.end.character}},
                    "alternative": alternative}
        action = types.CodeAction(title=f"stipple: {title}", kind=types.CodeActionKind.RefactorRewrite,
                                  data={"command": command, "argument": argument})
        if not lazy:
            action.command = types.Command(title=action.title, command=command, arguments=[argument])
        actions.append(action)
    return actions


async def resolve(ls, action: types.CodeAction) -> types.CodeAction:
    """Fill in a code action's edit; on failure the user is told why and the action has no edit."""
    data = action.data if isinstance(action.data, dict) else {}
    command = data.get("command")
    try:
        if command not in COMMANDS:
            raise EditError(f"not a stipple code action: {action.title}")
        args = parse_args(command, (data.get("argument"),))
        sel, alternatives = await propose(ls, command, args)
        if not alternatives:
            raise EditError("the model found nothing to change")
        chosen = alternatives[min(args.alternative, len(alternatives) - 1)]
        action.edit = workspace_edit(ls, sel, chosen, action.title)
    except (EditError, ValueError) as exc:
        note(ls, str(exc), types.MessageType.Warning)
    return action


def register(server) -> None:
    def handler(command: str):
        async def run(ls, *args: object) -> dict:
            return await execute(ls, command, args)
        return run

    for name in COMMANDS:
        server.command(name)(handler(name))

    options = types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.RefactorRewrite], resolve_provider=True)

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, options)
    def code_action(ls, params: types.CodeActionParams) -> list[types.CodeAction]:
        try:
            return code_actions(ls, params)
        except Exception:  # never a dead server for a menu
            log.exception("code actions failed")
            return []

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def code_action_resolve(ls, action: types.CodeAction) -> types.CodeAction:
        return await resolve(ls, action)
