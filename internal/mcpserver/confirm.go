package mcpserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/tools"
)

// confirmTimeout bounds how long a delete waits for the user to answer.
const confirmTimeout = 10 * time.Minute

// confirmInputID names the confirmation in a multi round-trip tool call.
const confirmInputID = "cfstorage_confirm"

// maxPendingConfirmations bounds the confirmations asked in results that
// wait for the client's retry, across sessions: a 2026-07-28 client over
// stateless HTTP has no session to keep them in.
const maxPendingConfirmations = 256

// confirmer asks the user of a client that supports elicitation (form mode)
// to confirm an irreversible delete. Clients before 2026-07-28 are sent
// elicitation/create and the call waits for the answer; later clients get an input_required result with the form and a
// one-time requestState, and answer by retrying the call with the user's
// answer and that state. An answer counts only for the deletion it was asked
// about (same session, tool and what goes): a retry that would delete
// something else asks again.
type confirmer struct {
	srv   *server.MCPServer
	log   *slog.Logger
	asked asked[string] // what was asked about: see fingerprint
}

var _ tools.Confirmer = (*confirmer)(nil)

func newConfirmer(log *slog.Logger) *confirmer {
	return &confirmer{log: log, asked: asked[string]{limit: maxPendingConfirmations}}
}

// answerKey carries the user's answer that a retry brought, with the
// deletion it answers; askKey carries where Confirm leaves an input_required
// result for the middleware to send.
type (
	answerKey struct{}
	askKey    struct{}
)

type answer struct {
	about  string
	result *mcp.ElicitationResult
}

type askSlot struct{ res *mcp.CallToolResult }

// errAsked is what a tool returns while its confirmation is asked in the
// result; the middleware sends the question instead, so a client never sees
// it unless the middleware is missing.
var errAsked = storage.Errorf(storage.CodeUnavailable, "the user was asked to confirm in the client; nothing was deleted")

// middleware takes the answers of retries to what this server asked, and
// sends the questions Confirm asks in results.
func (c *confirmer) middleware(next server.ToolHandlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if res := server.ElicitationResponse(req.Params.InputResponses, confirmInputID); res != nil {
			if about, ok := c.asked.claim(req.Params.RequestState); ok {
				ctx = context.WithValue(ctx, answerKey{}, answer{about: about, result: res})
			} else {
				c.log.Debug("ignoring a confirmation in inputResponses that the server did not ask for")
			}
		}
		slot := &askSlot{}
		res, err := next(context.WithValue(ctx, askKey{}, slot), req)
		if slot.res != nil {
			return slot.res, nil
		}
		return res, err
	}
}

// declaresElicitation reports whether the client of ctx can show its user a
// form.
func declaresElicitation(ctx context.Context) bool {
	c := clientCapabilities(ctx)
	if c == nil || c.Elicitation == nil {
		return false
	}
	// An empty elicitation capability means form mode (spec 2025-11-25).
	return c.Elicitation.Form != nil || c.Elicitation.URL == nil
}

// Confirm asks the user about d, when the client can ask.
func (c *confirmer) Confirm(ctx context.Context, d tools.Deletion) (tools.Decision, error) {
	if !declaresElicitation(ctx) {
		return tools.Unasked, nil
	}
	about := fingerprint(ctx, d)
	if a, ok := ctx.Value(answerKey{}).(answer); ok && a.about == about {
		return c.decide(d, a.result), nil
	}
	params := mcp.ElicitationParams{
		Mode:    mcp.ElicitationModeForm,
		Message: d.Message(),
		// Nothing to fill in: the user accepts or declines.
		RequestedSchema: map[string]any{"type": "object", "properties": map[string]any{}},
	}
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern {
		// A 2026-07-28 client: ask through the result, on any transport
		// (stateless HTTP has no stream for a server's request).
		slot, ok := ctx.Value(askKey{}).(*askSlot)
		if !ok {
			return tools.Unasked, storage.Errorf(storage.CodeInternal, "%s: cannot ask the user to confirm; nothing was deleted", d.Tool)
		}
		slot.res = server.NewInputRequestBuilder(c.asked.issue(about)).Elicit(confirmInputID, params).ToolResult()
		return tools.Unasked, errAsked
	}
	askCtx, cancel := context.WithTimeout(ctx, confirmTimeout)
	defer cancel()
	res, err := c.srv.RequestElicitation(askCtx, mcp.ElicitationRequest{
		Request: mcp.Request{Method: string(mcp.MethodElicitationCreate)}, Params: params})
	switch {
	case errors.Is(err, server.ErrElicitationNotSupported), errors.Is(err, server.ErrNoActiveSession):
		// The client can ask, but this transport cannot carry the request:
		// as without elicitation, confirm decides.
		c.log.Debug("cannot ask the user to confirm over this transport; confirm decides", "tool", d.Tool, "error", err)
		return tools.Unasked, nil
	case err != nil:
		c.log.Warn("the user could not be asked to confirm a delete; nothing was deleted", "tool", d.Tool, "error", err)
		return tools.Unasked, storage.Errorf(storage.CodeUnavailable,
			"asking the user to confirm failed (%v); nothing was deleted. Ask the user whether to try again", err)
	}
	return c.decide(d, res), nil
}

func (c *confirmer) decide(d tools.Deletion, res *mcp.ElicitationResult) tools.Decision {
	if res != nil && res.Action == mcp.ElicitationResponseActionAccept {
		c.log.Info("the user confirmed a delete", "tool", d.Tool, "name", d.Name, "items", len(d.Items))
		return tools.Accepted
	}
	return tools.Declined
}

// fingerprint identifies a deletion in a session: an answer counts only for
// the deletion it was asked about (the tool, the names, the items). Detail is
// left out: it is measured again at each retry, and a database or namespace
// in use would never match its own answer.
func fingerprint(ctx context.Context, d tools.Deletion) string {
	var session string
	if cs := server.ClientSessionFromContext(ctx); cs != nil {
		session = cs.SessionID()
	}
	d.Detail = ""
	b, _ := json.Marshal(struct {
		Session string
		D       tools.Deletion
	}{session, d})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
