package agentapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// HashPrefix starts every policy hash.
const HashPrefix = "sha256:"

// ComputeHash returns the hash of p's content: HashPrefix and the hex
// SHA-256 of the canonical JSON of p with Generation and Hash cleared.
// encoding/json writes struct fields in declaration order and map keys
// sorted, so equal documents always give equal bytes; fields at their zero
// value are left out, so writing a default explicitly ("ttl": "0s") does
// not change the hash. The operator and the agent call this same function.
func (p *Policy) ComputeHash() (string, error) {
	c := *p
	c.Generation, c.Hash = 0, ""
	b, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("policy: hash: %w", err)
	}
	sum := sha256.Sum256(b)
	return HashPrefix + hex.EncodeToString(sum[:]), nil
}
