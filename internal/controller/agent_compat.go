package controller

import (
	"context"
	"errors"
	"strings"

	"github.com/layercache/layercache/internal/agentconn"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
)

// invalidate sends req to an agent. An agent older than policy uids
// refuses the PolicyUID field, which it does not know (its decoding is
// strict, CodeBadRequest): it is then sent req without it, which it counts
// as it always did. Newer agents are sent the field, so that they count the
// sequence for the right policy (agentapi.InvalidationRequest.PolicyUID).
func invalidate(ctx context.Context, admin agentconn.Admin, req agentapi.InvalidationRequest) (agentapi.InvalidationResult, error) {
	out, err := admin.Invalidate(ctx, req.UID, req)
	if err != nil && req.PolicyUID != "" && refusesPolicyUID(err) {
		req.PolicyUID = ""
		out, err = admin.Invalidate(ctx, req.UID, req)
	}
	return out, err
}

// refusesPolicyUID reports whether err is an agent's refusal of a request
// because it does not know the field policyUID.
func refusesPolicyUID(err error) bool {
	var e *agentclient.Error
	return errors.As(err, &e) && e.Code == agentapi.CodeBadRequest && strings.Contains(e.Message, `unknown field "policyUID"`)
}
